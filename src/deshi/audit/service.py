"""Append to and verify the audit log; appends happen inside the caller's transaction.

Call `record_event` in the same transaction as the change it records, exactly once per
state-changing operation: the event commits or rolls back with the change. Appends are
serialised so the chain stays linear: on PostgreSQL with a transaction-level advisory lock,
on SQLite by taking the database write lock before reading the chain head.

A hash chain detects any change to or removal of an event that has a successor; removing
the newest events leaves a shorter valid chain, so export signed anchors of the head
(`deshi.audit.anchor`) and verify against them to prove the log was not cut short. With an
audit key configured, events are keyed (`deshi.audit.keys`): rewriting an event and every later
hash needs the key, and once one event is keyed every later one must be, so the chain cannot
fall back to plain SHA-256. Writing to a keyed chain without the key is refused.

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
from deshi.audit.keys import AuditKeyring, keyring_of
from deshi.db.base import Base, utcnow
from deshi.db.tables import AuditEvent, User
from deshi.errors import ServiceUnavailable

__all__ = [
    "ChainWalk",
    "ObjectRef",
    "VerifyResult",
    "record_event",
    "snapshot",
    "verify_chain",
    "walk_events",
]

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
    head_seq: int = 0  # seq of the last good event (0: none)
    keyed_from: int | None = None  # seq of the first keyed event; every later one is keyed
    resumed_after: int = 0  # seq of a remembered verified prefix's end; 0: every event was read


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
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.key_id)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    key_id, key = _signing_key(session, head_keyed=head is not None and head.key_id is not None)
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
        key_id=key_id,
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
        hash=event_hash(fields, prev_hash, key=key),
        department_id=fields.department_id,
        key_id=key_id,
    )
    session.add(event)
    session.flush()
    return event


def _signing_key(session: Session, *, head_keyed: bool) -> tuple[str | None, bytes | None]:
    """(key id, key) to key the next event with; (None, None) on an unkeyed chain without a key.
    ServiceUnavailable when the chain is keyed and no key is configured: an unkeyed event
    there would be a gap anyone could fill."""
    current = keyring_of(session).current
    if current is None and head_keyed:
        raise ServiceUnavailable(
            "the audit log is keyed but no audit key is configured "
            "(DESHI_AUDIT_KEY or DESHI_AUDIT_KEY_FILE): nothing can be written"
        )
    return current if current is not None else (None, None)


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


def verify_chain(session: Session, *, keyring: AuditKeyring | None = None) -> VerifyResult:
    """Recompute every hash in seq order (keyed events with `keyring`, by default the session's
    keys); report the first event that breaks the chain.

    It reads the whole log: run it in a read-only session, never inside a write transaction
    (on SQLite that would hold the database's write lock all along).
    """
    walk = ChainWalk(keyring if keyring is not None else keyring_of(session))
    problem = walk_events(session, walk)
    if problem is not None:
        return walk.result(problem)
    if walk.checked == 0 and session.scalar(select(User.id).limit(1)) is not None:
        # Creating a user is audited, so a workspace with users has events.
        return walk.result(
            (1, "the log is empty, but the workspace has users: events were deleted")
        )
    return walk.result(None)


def walk_events(session: Session, walk: ChainWalk) -> tuple[int, str] | None:
    """Step `walk` through the stored events from its `expected_seq` on, in seq order; the
    first problem as (seq, reason), or None when every event read links and verifies."""
    rows = session.execute(
        select(AuditEvent)
        .where(AuditEvent.seq >= walk.expected_seq)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=_BATCH)
    ).scalars()
    for event in rows:
        problem = walk.step(event)
        if problem is not None:
            return problem
    return None


@dataclass(slots=True)
class ChainWalk:
    """The state of a walk along the chain: what the next event must link to (a walk can
    start after a verified prefix: `deshi.audit.checkpoint`)."""

    keyring: AuditKeyring
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    checked: int = 0
    unscoped: int = 0
    keyed_from: int | None = None
    resumed_after: int = 0

    def step(self, event: AuditEvent) -> tuple[int, str] | None:
        """Check the next event; the problem as (seq, reason), or None and move on."""
        self.checked += 1
        problem = _check_link(event, self.expected_seq, self.prev_hash) or self._check_hash(event)
        if problem is None:
            self.expected_seq, self.prev_hash = event.seq + 1, event.hash
        return problem

    def _check_hash(self, event: AuditEvent) -> tuple[int, str] | None:
        if event.key_id is not None:
            return self._check_keyed(event)
        if self.keyed_from is not None:
            return event.seq, (
                f"event {event.seq} is not keyed, but follows keyed event {self.keyed_from}: "
                "the log was rewritten without the audit key"
            )
        scoped = _hashed_scoped(event)
        if scoped is None:
            return event.seq, _altered(event.seq)
        self.unscoped += not scoped
        return None

    def _check_keyed(self, event: AuditEvent) -> tuple[int, str] | None:
        assert event.key_id is not None
        key = self.keyring.get(event.key_id)
        if key is None:
            return event.seq, (
                f"event {event.seq} is keyed with audit key {event.key_id}, which is not "
                "configured (DESHI_AUDIT_KEY or DESHI_AUDIT_KEY_FILE)"
            )
        if event_hash(_fields_of(event), event.prev_hash, key=key) != event.hash:
            return event.seq, _altered(event.seq)
        if self.keyed_from is None:
            self.keyed_from = event.seq
        return None

    def result(self, problem: tuple[int, str] | None) -> VerifyResult:
        """The outcome: intact up to the last good event, or broken at `problem`."""
        bad_seq, reason = problem if problem is not None else (None, None)
        return VerifyResult(
            ok=problem is None,
            checked=self.checked,
            first_bad_seq=bad_seq,
            reason=reason,
            head_hash=self.prev_hash,
            unscoped=self.unscoped,
            head_seq=self.expected_seq - 1,
            keyed_from=self.keyed_from,
            resumed_after=self.resumed_after,
        )


def _altered(seq: int) -> str:
    return f"event {seq} was altered: its contents do not match its hash"


def _check_link(event: AuditEvent, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """Why this event is not the next link of the chain, as (seq, reason); None when it is."""
    if event.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (next stored event is {event.seq})"
    if event.prev_hash != prev_hash:
        return event.seq, f"event {event.seq} does not link to event {event.seq - 1}'s hash"
    return None


def _fields_of(event: AuditEvent) -> EventFields:
    return EventFields(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
        department_id=event.department_id,
        key_id=event.key_id,
    )


def _hashed_scoped(event: AuditEvent) -> bool | None:
    """For an unkeyed event: True if the stored hash covers its contents and department, False
    if it covers the contents of an event from before departments were hashed, None if it
    covers neither."""
    fields = _fields_of(event)
    if event_hash(fields, event.prev_hash) == event.hash:
        return True
    if event_hash(fields, event.prev_hash, scoped=False) == event.hash:
        return False
    return None
