"""Helpers of the keyed-chain tests: keyed engines, appends, and an attacker's rewrite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import ObjectRef, record_event
from deshi.audit.chain import GENESIS_HASH, EventFields, event_hash
from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import AuditEvent

KEY = b"audit-key-one-0123456789abcdef0123456789"
OTHER_KEY = b"audit-key-two-0123456789abcdef0123456789"


@contextmanager
def keyed_factory(db_url: str, *keys: bytes) -> Iterator[sessionmaker[Session]]:
    """Sessions on the (migrated) database whose engine carries these audit keys."""
    engine = create_db_engine(db_url, audit_keys=keys)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def append(factory: sessionmaker[Session], count: int) -> None:
    """`count` events, one transaction each."""
    for i in range(count):
        with factory() as session, session.begin():
            record_event(
                session,
                actor="user:1",
                action="x.update",
                obj=ObjectRef("x", str(i)),
                after={"i": i},
            )


def rewrite_without_key(
    factory: sessionmaker[Session], *, from_seq: int, after: Any, prev_hash: str | None = None
) -> None:
    """What someone with write access but no key can do: change event `from_seq` and recompute
    every later hash with plain SHA-256 (the append-only guard must be off already)."""
    with factory() as session, session.begin():
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.seq >= from_seq).order_by(AuditEvent.seq)
        ).all()
        if prev_hash is None:
            prev_hash = events[0].prev_hash if events else GENESIS_HASH
        events[0].after = after
        for event in events:
            event.key_id = None
            event.prev_hash = prev_hash
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
            event.hash = prev_hash = event_hash(fields, prev_hash)
