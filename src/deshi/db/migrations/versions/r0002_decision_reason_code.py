"""Decisions remember the machine-readable route reason and the audit rate in force.

The learner needs both to replay history faithfully: the audit rate gives each audited item its
inverse-probability weight, and reason_code "suspended" marks would-be-auto items decided while
autopilot was paused. Additive and nullable: older rows fall back to the process's audit rate.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("reason_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("audit_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("audit_rate")
        batch.drop_column("reason_code")
