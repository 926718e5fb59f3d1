"""History import (issue #22): items know their origin, imports and label-audit flags are kept.

`items` gains `origin` ("live" by default, so every stored item stays live), `history_label` and
`handling_seconds` (history items only); `history_imports` keeps each import's summary and
`label_flags` the label audit's suspects. Additive, plain ALTER TABLE on both backends.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "items", sa.Column("origin", sa.String(length=16), nullable=False, server_default="live")
    )
    op.add_column("items", sa.Column("history_label", sa.String(length=200), nullable=True))
    op.add_column("items", sa.Column("handling_seconds", sa.Float(), nullable=True))
    op.create_table(
        "history_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["processes.id"],
            name=op.f("fk_history_imports_process_id_processes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_imports")),
    )
    op.create_index(
        op.f("ix_history_imports_process_id"), "history_imports", ["process_id"], unique=False
    )
    op.create_table(
        "label_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("suggested_label", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_label_flags_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["process_id"], ["processes.id"], name=op.f("fk_label_flags_process_id_processes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_flags")),
        sa.UniqueConstraint("item_id", name=op.f("uq_label_flags_item_id")),
    )
    op.create_index(
        "ix_label_flags_process_id_status", "label_flags", ["process_id", "status"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_label_flags_process_id_status", table_name="label_flags")
    op.drop_table("label_flags")
    op.drop_index(op.f("ix_history_imports_process_id"), table_name="history_imports")
    op.drop_table("history_imports")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of `items` would drop a table that
    # decisions and reviews refer to.
    for column in ("handling_seconds", "history_label", "origin"):
        op.drop_column("items", column)
