"""Each process says who may add a label by answering a review: "reviewers" or "owners".

Additive with a server default of "reviewers", so every existing process keeps letting any
reviewer's correction grow its label set, as before (each addition is now audited). Plain ALTER
TABLE on both backends, as in 0006.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("new_labels", sa.String(length=16), nullable=False, server_default="reviewers"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("processes", "new_labels")
