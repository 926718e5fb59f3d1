"""Drafts sent without review inside the error budget (issue #25, point 5).

`processes.draft_autosend`: the owner's switch (off by default: drafts are suggestions only).
`drafts.score`: the draft score the certification ranks by (label confidence × the weakest
sentence's support; none for drafts of no item). `drafts.autosend`: what the auto-send path
decided for a draft it made (`sent`, `audit_sample`, or why it held it); `drafts.sent_at`: when
it was sent. `draft_autosend_states`: one row per process with the certified draft threshold
and the blind-audit monitor's verdict (paused or not), recomputed by the worker.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "processes",
        sa.Column("draft_autosend", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("drafts", sa.Column("score", sa.Float(), nullable=True))
    op.add_column("drafts", sa.Column("autosend", sa.String(length=32), nullable=True))
    op.add_column("drafts", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "draft_autosend_states",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("certified_bound", sa.Float(), nullable=True),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("audited", sa.Integer(), nullable=False),
        sa.Column("audit_errors", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["processes.id"],
            name=op.f("fk_draft_autosend_states_process_id_processes"),
        ),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_draft_autosend_states")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("draft_autosend_states")
    # plain DROP COLUMN (SQLite 3.35+, as in 0013): a batch rebuild would drop tables that
    # other tables' rows reference
    op.drop_column("drafts", "sent_at")
    op.drop_column("drafts", "autosend")
    op.drop_column("drafts", "score")
    op.drop_column("processes", "draft_autosend")
