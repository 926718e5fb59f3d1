"""Whether a person still signs in with a one-time password someone else saw (a new account,
the first admin, a reset), until they change it themselves.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Revert this revision."""
    # plain DROP COLUMN (SQLite 3.35+, as in 0013): a batch rebuild would drop `users`, which
    # other tables' rows reference
    op.drop_column("users", "must_change_password")
