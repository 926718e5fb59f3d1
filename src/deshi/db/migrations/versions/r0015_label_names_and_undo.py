"""Readable label names per process, and the epoch that lets an undone review leave memory.

`processes.label_names` holds the display names an admin gave the labels, per language
(`{"en": {code: name}, "ja": {code: name}}`; empty by default, so every label keeps showing its
humanised code). `processes.memory_epoch` is bumped when an answer is undone (issue #23): every
agent registry compares it on next use and rebuilds the process's case memory from the stored
reviews, so a withdrawn label is forgotten in every API and worker process. Additive, plain
ALTER TABLE with server defaults on both backends.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("label_names", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.add_column(
        "processes",
        sa.Column("memory_epoch", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("processes", "memory_epoch")  # plain DROP COLUMN: SQLite 3.35+, as in 0013
    op.drop_column("processes", "label_names")
