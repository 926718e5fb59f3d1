"""The KPI read cache (issue #23, point 3): a process's computed KPI report or warnings with the
fingerprint of the data they came from, so repeated views do not recompute them
(deshi.kpis.cache), and an index on items (process, creation time) its watermark and the KPI
reads use. Dropping the table loses nothing but the memo. No foreign key
to `processes`: a memo row must never wait on, or hold up, a transaction that writes a process.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "kpi_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("watermark", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_snapshots")),
        sa.UniqueConstraint("process_id", "key", name=op.f("uq_kpi_snapshots_process_id_key")),
    )
    # the newest item of a process in one index lookup (the cache's watermark), and a period's
    # items without scanning the others (the KPI reads)
    op.create_index(
        op.f("ix_items_process_id_created_at"), "items", ["process_id", "created_at"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_items_process_id_created_at"), table_name="items")
    op.drop_table("kpi_snapshots")
