"""The audit page's chain check on a log of N keyed events: the whole chain re-hashed (what
every view did before the verified prefix was remembered) against the incremental check (the
events after the remembered prefix), plus the 50 newest events the page lists.

    .venv/bin/python bench/audit_verify_bench.py [--events 20000] [--new 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from _support import machine, postgres_schema
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import list_events, verify_and_remember, verify_chain
from deshi.audit.chain import GENESIS_HASH, EventFields, event_hash
from deshi.audit.keys import key_id_of
from deshi.db import create_db_engine, make_session_factory
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import AuditEvent

KEY = b"bench-audit-key-0123456789abcdef0123456789"


def append_events(factory: sessionmaker[Session], start: int, count: int) -> None:
    """`count` keyed events after event `start - 1`, written directly (the hashes as
    record_event makes them), so generating the log takes seconds."""
    key_id = key_id_of(KEY)
    with factory.begin() as session:
        prev = session.get(AuditEvent, start - 1)
        prev_hash = prev.hash if prev is not None else GENESIS_HASH
        at, rows = utcnow(), []
        for seq in range(start, start + count):
            fields = EventFields(
                seq=seq,
                at=at + timedelta(milliseconds=seq),
                actor="user:1",
                action="item.review",
                object_type="items",
                object_id=str(seq),
                before={"label": None},
                after={"label": f"label_{seq % 77}", "confidence": 0.9},
                department_id=1,
                key_id=key_id,
            )
            digest = event_hash(fields, prev_hash, key=KEY)
            rows.append(
                {
                    "seq": seq,
                    "at": fields.at,
                    "actor": fields.actor,
                    "action": fields.action,
                    "object_type": fields.object_type,
                    "object_id": fields.object_id,
                    "before": fields.before,
                    "after": fields.after,
                    "prev_hash": prev_hash,
                    "hash": digest,
                    "department_id": 1,
                    "key_id": key_id,
                }
            )
            prev_hash = digest
        session.execute(insert(AuditEvent), rows)


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(url: str, *, events: int, new: int, runs: int) -> str:
    engine = create_db_engine(url, audit_keys=(KEY,))
    try:
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        append_events(factory, 1, events)

        def full_view() -> None:
            with factory() as session:
                list_events(session, departments=None, before=None, limit=50)
                assert verify_chain(session).ok

        def incremental_view() -> None:
            with factory() as session:
                list_events(session, departments=None, before=None, limit=50)
            assert verify_and_remember(factory).ok

        before = timed(full_view, runs)
        verify_and_remember(factory, full=True)  # what `deshi audit verify` leaves behind
        after_idle = timed(incremental_view, runs)
        after_new = []
        for _ in range(runs):
            head = events + 1 + len(after_new) * new
            append_events(factory, head, new)
            after_new += timed(incremental_view, 1)
    finally:
        engine.dispose()
    backend = engine.dialect.name
    return (
        f"| {backend} | {events:,} | {statistics.median(before):.0f} ms | "
        f"{statistics.median(after_idle):.1f} ms | {statistics.median(after_new):.1f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=20, help="events written between two views")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="also on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    print(machine())
    print(
        "| backend | events | whole chain per view (median) | incremental, no new events | "
        f"incremental, {args.new} new events |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'audit.db'}"
        print(run(url, events=args.events, new=args.new, runs=args.runs))
    if args.postgres:
        with postgres_schema(args.postgres, "audit_bench") as url:
            print(run(url, events=args.events, new=args.new, runs=args.runs))


if __name__ == "__main__":
    main()
