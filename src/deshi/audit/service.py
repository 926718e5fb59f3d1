"""Append to and verify the audit log; appends happen inside the caller's transaction.

Call `record_event` in the same transaction as the change it records, exactly once per
state-changing operation: the event commits or rolls back with the change. Appends are
serialised so the chain stays linear: on PostgreSQL with a transaction-level advisory lock,
on SQLite by taking the database write lock before reading the chain head.

A hash chain detects any change to or removal of an event that has a successor; removing
the newest events leaves a shorter valid chain, so keep `VerifyResult.head_hash` somewhere
else (a ticket, a log shipper) when you need to prove the log was not truncated.

Each event's hash also covers the department it is filed under, so an event cannot be moved out
of a department auditor's view unnoticed. Events written before that (by deshi before this
change, their department filled in by migration 0004) still verify by their original hash;
`VerifyResult.unscoped` counts them, since their department is not protected by the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from deshi.audit.chain import GENESIS_HASH, EventFields, event_hash, to_json_value
from deshi.audit.departments import department_of
from deshi.db.base import Base, utcnow
from deshi.db.tables import AuditEvent

__all__ = ["ObjectRef", "VerifyResult", "record_event", "snapshot", "verify_chain"]

_LOCK_NAMESPACE = 0x64657368  # "desh": first key of the two-int advisory lock
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """What an event is about: a type name and an id."""

    type: str
    id: str

    @classmethod
    def of(cls, instance: Base) -> ObjectRef:
        """Reference a persisted row by its table name and primary key (flush first if new)."""
        identity = inspect(instance).identity
        if identity is None:
            raise ValueError("object has no primary key yet; flush the session first")
        return cls(type=instance.__tablename__, id=":".join(str(part) for part in identity))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of checking the whole chain."""

    ok: bool
    checked: int  # events read
    first_bad_seq: int | None = None
    reason: str | None = None
    head_hash: str = GENESIS_HASH  # hash of the last good event; anchor it to detect truncation
    unscoped: int = 0  # events hashed without their department (written before it was hashed)


def snapshot(instance: Base, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Column values of a row for before/after, minus `exclude` and binary columns."""
    values = {
        attr.key: getattr(instance, attr.key) for attr in inspect(instance).mapper.column_attrs
    }
    return {k: v for k, v in values.items() if k not in exclude and not isinstance(v, bytes)}


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    obj: ObjectRef | Base,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event to the chain in the session's transaction and return it."""
    if isinstance(obj, Base):
        session.flush()
        obj = ObjectRef.of(obj)
    _lock_chain(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    before, after = to_json_value(before), to_json_value(after)
    fields = EventFields(
        seq=seq,
        at=utcnow(),
        actor=actor,
        action=action,
        object_type=obj.type,
        object_id=obj.id,
        before=before,
        after=after,
        department_id=department_of(session, obj.type, obj.id, before=before, after=after),
    )
    event = AuditEvent(
        seq=fields.seq,
        at=fields.at,
        actor=fields.actor,
        action=fields.action,
        object_type=fields.object_type,
        object_id=fields.object_id,
        before=fields.before,
        after=fields.after,
        prev_hash=prev_hash,
        hash=event_hash(fields, prev_hash),
        department_id=fields.department_id,
    )
    session.add(event)
    session.flush()
    return event


def _lock_chain(session: Session) -> None:
    """Serialise appenders until the end of the transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Keyed by schema, so separate deshi schemas in one database do not contend.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(current_schema()))"),
            {"ns": _LOCK_NAMESPACE},
        )
    elif dialect == "sqlite":
        # A write statement (matching no row) takes SQLite's write lock now, so the head we
        # read next cannot change before commit; busy_timeout makes other writers wait.
        session.execute(text("UPDATE audit_events SET seq = seq WHERE 0 = 1"))


def verify_chain(session: Session) -> VerifyResult:
    """Recompute every hash in seq order; report the first event that breaks the chain."""
    expected_seq, prev_hash, checked, unscoped = 1, GENESIS_HASH, 0, 0
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=_BATCH)
    ).scalars()
    for event in rows:
        checked += 1
        problem = _check_link(event, expected_seq, prev_hash)
        scoped = _hashed_scoped(event) if problem is None else None
        if problem is None and scoped is None:
            problem = (
                event.seq,
                f"event {event.seq} was altered: its contents do not match its hash",
            )
        if problem is not None:
            bad_seq, reason = problem
            return VerifyResult(False, checked, bad_seq, reason, prev_hash, unscoped)
        unscoped += scoped is False
        expected_seq, prev_hash = event.seq + 1, event.hash
    return VerifyResult(True, checked, head_hash=prev_hash, unscoped=unscoped)


def _check_link(event: AuditEvent, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """Why this event is not the next link of the chain, as (seq, reason); None when it is."""
    if event.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (next stored event is {event.seq})"
    if event.prev_hash != prev_hash:
        return event.seq, f"event {event.seq} does not link to event {event.seq - 1}'s hash"
    return None


def _hashed_scoped(event: AuditEvent) -> bool | None:
    """True if the stored hash covers the event's contents and department, False if it covers
    the contents of an event from before departments were hashed, None if it covers neither."""
    fields = EventFields(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
        department_id=event.department_id,
    )
    if event_hash(fields, event.prev_hash) == event.hash:
        return True
    if event_hash(fields, event.prev_hash, scoped=False) == event.hash:
        return False
    return None
