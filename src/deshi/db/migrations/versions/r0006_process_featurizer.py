"""Each process names the featurizer its agent uses: "tfidf" (the default) or "embeddings".

Additive with a server default, so every existing process keeps the TF-IDF featurizer it was
trained with and no stored model changes meaning. Plain ALTER TABLE on both backends (SQLite
3.35+ drops columns): a batch rebuild of `processes` would drop a table that every item and
model version points at, which SQLite's foreign keys refuse once there is work in it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("featurizer", sa.String(length=32), nullable=False, server_default="tfidf"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("processes", "featurizer")
