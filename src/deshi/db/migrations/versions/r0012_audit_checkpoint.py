"""The audit chain's verified prefix (`audit_checkpoints`), so views verify only new events.

One row at most: the last verified event's seq and hash, how many events were up to it, and the
state a verification resumes with (first keyed event, unscoped events). It is a cache of work
done, not a source of trust; see deshi.audit.checkpoint. No stored event changes.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("keyed_from", sa.BigInteger(), nullable=True),
        sa.Column("unscoped", sa.BigInteger(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Revert this revision: views verify the whole chain again."""
    op.drop_table("audit_checkpoints")
