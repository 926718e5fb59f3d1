"""Audit events carry the department they are about, indexed with `seq`.

A department's auditor used to page through the log with one IN-subquery per object type over
every item and review of the department, so each page cost grew with the department's work
(280 ms for 8,400 items on SQLite). The department is now written with the event; existing
events are filled in here by the rules of `deshi.audit.departments`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deshi.db.migrations.versions.r0001_initial_schema import guard_audit_log, unguard_audit_log

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_KEY = "CAST(audit_events.object_id AS BIGINT)"  # evaluated only on rows of the right type
_DEPARTMENT_OF: dict[str, str] = {
    "departments": _KEY,
    "processes": f"(SELECT p.department_id FROM processes p WHERE p.id = {_KEY})",
    "items": (
        "(SELECT p.department_id FROM items i JOIN processes p ON p.id = i.process_id"
        f" WHERE i.id = {_KEY})"
    ),
    "reviews": (
        "(SELECT p.department_id FROM reviews r JOIN items i ON i.id = r.item_id"
        f" JOIN processes p ON p.id = i.process_id WHERE r.id = {_KEY})"
    ),
    "model_versions": (
        "(SELECT p.department_id FROM model_versions m JOIN processes p ON p.id = m.process_id"
        f" WHERE m.id = {_KEY})"
    ),
    "webhooks": (
        "(SELECT p.department_id FROM webhooks w JOIN processes p ON p.id = w.process_id"
        f" WHERE w.id = {_KEY})"
    ),
}
_SNAPSHOT_SCOPED = ("role_grants", "inventory_candidates")

_events = sa.table(
    "audit_events",
    sa.column("seq", sa.BigInteger()),
    sa.column("object_type", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("department_id", sa.Integer()),
)


def upgrade() -> None:
    """Apply this revision: the append-only guard is lifted for the backfill only."""
    unguard_audit_log()
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch.create_index("ix_audit_events_department_seq", ["department_id", "seq"], unique=False)
    bind = op.get_bind()
    for object_type, lookup in _DEPARTMENT_OF.items():
        bind.execute(
            sa.text(f"UPDATE audit_events SET department_id = {lookup} WHERE object_type = :t"),
            {"t": object_type},
        )
    snapshots = bind.execute(
        sa.select(_events.c.seq, _events.c.before, _events.c.after).where(
            _events.c.object_type.in_(_SNAPSHOT_SCOPED)
        )
    ).all()
    for seq, before, after in snapshots:
        department = next(
            (
                s["department_id"]
                for s in (after, before)
                if isinstance(s, dict) and isinstance(s.get("department_id"), int)
            ),
            None,
        )  # after, else before: the rule used when writing
        if department is not None:
            bind.execute(
                sa.update(_events).where(_events.c.seq == seq).values(department_id=department)
            )
    guard_audit_log()


def downgrade() -> None:
    """Revert this revision (SQLite rebuilds the table, so the guard is put back after)."""
    unguard_audit_log()
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_department_seq")
        batch.drop_column("department_id")
    guard_audit_log()
