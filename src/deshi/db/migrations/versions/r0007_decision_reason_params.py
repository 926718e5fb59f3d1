"""Decisions keep their route reason as a code plus parameters, not as an English sentence.

`reason_params` holds the facts a reason code names (the matched rule, the label, confidence and
threshold), from which every language renders the sentence; `reason_code` is checked against the
codes (it only ever held them). Existing rows with a code get their parameters from their own
columns, and a rule's name from the sentence the engine wrote. The sentence column stays: new rows
leave it empty, and it still explains the rows decided before codes existed (before 0002).
Downgrading drops the parameters: rows decided after this revision then have no sentence.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# The codes as of this revision (deshi.engine.types.RouteReason), frozen here.
CODES = (
    "auto", "audit", "below_threshold", "no_threshold", "cold_start", "novel", "rare_label",
    "sensitive", "rule", "suspended",
)  # fmt: skip
RULE_PREFIX = "An always-human rule matched: "  # how the engine worded a rule's reason until now
BATCH = 2000

_decisions = sa.table(
    "decisions",
    sa.column("id", sa.Integer()),
    sa.column("label", sa.String()),
    sa.column("confidence", sa.Float()),
    sa.column("threshold", sa.Float()),
    sa.column("reason", sa.Text()),
    sa.column("reason_code", sa.String()),
    sa.column("reason_params", sa.JSON()),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("reason_params", sa.JSON(), nullable=True))
    _fill_params()
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("reason_params", existing_type=sa.JSON(), nullable=False)
        batch.alter_column(
            "reason_code",
            existing_type=sa.String(length=32),
            type_=sa.Enum(
                *CODES, name="route_reason", native_enum=False, create_constraint=True, length=32
            ),
            existing_nullable=True,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column(
            "reason_code",
            existing_type=sa.Enum(
                *CODES, name="route_reason", native_enum=False, create_constraint=True, length=32
            ),
            type_=sa.String(length=32),
            existing_nullable=True,
        )
        batch.drop_column("reason_params")


def _params_of(code: str | None, row: Any) -> dict[str, Any]:
    """The parameters the engine now gives a decision with `code`, from a stored row."""
    if code in ("auto", "below_threshold"):
        return {"confidence": row.confidence, "threshold": row.threshold}
    if code in ("sensitive", "rare_label"):
        return {"label": row.label}
    if code == "rule" and row.reason.startswith(RULE_PREFIX):
        return {"rule": row.reason.removeprefix(RULE_PREFIX).removesuffix(".")}
    return {}


def _fill_params() -> None:
    """Every row gets its parameters: computed in batches of ids for the codes that have
    some, then `{}` for the rest in one statement."""
    connection = op.get_bind()
    t = _decisions
    with_params = ("auto", "below_threshold", "sensitive", "rare_label", "rule")
    query = (
        sa.select(t.c.id, t.c.label, t.c.confidence, t.c.threshold, t.c.reason, t.c.reason_code)
        .where(t.c.reason_code.in_(with_params))
        .order_by(t.c.id)
        .limit(BATCH)
    )
    update = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values(reason_params=sa.bindparam("params", type_=sa.JSON()))
    )
    last = 0
    while rows := connection.execute(query.where(t.c.id > last)).all():
        batch = [{"row_id": r.id, "params": _params_of(r.reason_code, r)} for r in rows]
        connection.execute(update, batch)
        last = rows[-1].id
    connection.execute(sa.update(t).where(t.c.reason_params.is_(None)).values(reason_params={}))
