"""How long each stored KPI read took to compute (issue #23, point 3).

`kpi_snapshots.seconds` lets a long-running server serve a slow read's stored result while it
recomputes it in the background, instead of making the viewer wait for it (deshi.kpis.refresh).
Nullable: rows stored before this revision were not timed and are recomputed as before.
Additive, a plain ALTER TABLE on both backends.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("kpi_snapshots", sa.Column("seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("kpi_snapshots", "seconds")
