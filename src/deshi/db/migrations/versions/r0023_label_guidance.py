"""Drafting guidance per label (issue #25, point 3).

`processes.label_guidance` holds the owner's instructions for replies to items of each label,
`{code: text}` (empty by default: the drafters write as before). Additive, a plain ALTER TABLE
with a server default on both backends, as `label_names` in 0015.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("label_guidance", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("processes", "label_guidance")  # plain DROP COLUMN: SQLite 3.35+, as in 0013
