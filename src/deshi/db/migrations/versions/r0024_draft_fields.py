"""Drafting fields (issue #25, point 3: "a drafted reply (or a filled field)").

`processes.draft_fields` holds the fields a process wants filled from its documents,
`{name: instruction}` (empty by default), and `drafts.field` says which field a stored draft
filled (NULL for a reply, so every existing draft stays a reply). Additive, plain ALTER TABLEs
on both backends, as 0023.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("draft_fields", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.add_column("drafts", sa.Column("field", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("drafts", "field")  # plain DROP COLUMN: SQLite 3.35+, as in 0013
    op.drop_column("processes", "draft_fields")
