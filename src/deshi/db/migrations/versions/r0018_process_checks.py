"""Go-live checks and drift state (issue #22): what the agent would have done on the most recent
slice of the history, and whether live items still resemble the history.

`golive_checks` keeps each requested go-live check (queued, then done or failed, with its
figures); `drift_states` keeps one row per process with the drift detector's last verdict, so the
`process.drift` webhook fires once per onset. Additive, plain CREATE TABLE on both backends.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "golive_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("error_budget", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"], ["processes.id"], name=op.f("fk_golive_checks_process_id_processes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_golive_checks")),
    )
    op.create_index(
        op.f("ix_golive_checks_process_id"), "golive_checks", ["process_id"], unique=False
    )
    op.create_table(
        "drift_states",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("drifting", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"], ["processes.id"], name=op.f("fk_drift_states_process_id_processes")
        ),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_drift_states")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("drift_states")
    op.drop_index(op.f("ix_golive_checks_process_id"), table_name="golive_checks")
    op.drop_table("golive_checks")
