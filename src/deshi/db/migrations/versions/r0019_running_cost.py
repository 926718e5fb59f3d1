"""A process's running cost per week, so net savings and ROI charge what the agent costs to run.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("processes", sa.Column("running_cost_per_week", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    # plain DROP COLUMN (SQLite 3.35+, as in 0013): a batch rebuild would drop `processes`,
    # which other tables' rows reference
    op.drop_column("processes", "running_cost_per_week")
