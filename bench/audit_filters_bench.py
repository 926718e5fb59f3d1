"""The audit page's listing at scale: one keyset page of 50 events (with names) under each
filter, on a generated log of N keyed events, and the export's speed.

    .venv/bin/python bench/audit_filters_bench.py [--events 300000] [--runs 20] [--postgres URL]

Then the whole page over HTTP, signed in as an auditor of one department. The log mixes three
departments, twenty people and the actions of a busy process (ingest,
claim, review, and rare administration: one event in a thousand). Each case is timed as the
page does it: `page_events` (limit 50, one row more to know whether a next page exists) plus
`names_for`. Printed: median and p95 in ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from _support import machine, postgres_schema
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import EventFilter, export_events, names_for, page_events, verify_and_remember
from deshi.audit.chain import GENESIS_HASH, EventFields, event_hash
from deshi.audit.keys import key_id_of
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role
from deshi.db import create_db_engine, make_session_factory
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import AuditEvent
from deshi.domain import Role
from deshi.processes.service import create_department
from deshi.settings import Settings
from deshi.web import create_app

KEY = b"bench-audit-key-0123456789abcdef0123456789"
PASSWORD = "a long enough password"
ACTIONS = ("item.ingest", "item.ingest", "item.claim", "item.review")


def _event(seq: int, start: Any) -> EventFields:
    rare = seq % 1000 == 0
    return EventFields(
        seq=seq,
        at=start + timedelta(seconds=seq * 2),  # 300,000 events span about a week
        actor=f"user:{seq % 20 + 1}",
        action="role.grant" if rare else ACTIONS[seq % 4],
        object_type="role_grants" if rare else "items",
        object_id=str(seq),
        before=None if seq % 4 < 2 else {"label": None},
        after={"label": f"label_{seq % 77}", "confidence": 0.9},
        department_id=seq % 3 + 1,
        key_id=key_id_of(KEY),
    )


def generate(factory: sessionmaker[Session], count: int) -> None:
    """`count` keyed events, hashed as record_event would, inserted in batches."""
    prev_hash, start = GENESIS_HASH, utcnow() - timedelta(days=8)
    for first in range(1, count + 1, 10_000):
        rows = []
        for seq in range(first, min(first + 10_000, count + 1)):
            fields = _event(seq, start)
            digest = event_hash(fields, prev_hash, key=KEY)
            rows.append({
                "seq": seq, "at": fields.at, "actor": fields.actor, "action": fields.action,
                "object_type": fields.object_type, "object_id": fields.object_id,
                "before": fields.before, "after": fields.after, "prev_hash": prev_hash,
                "hash": digest, "department_id": fields.department_id, "key_id": fields.key_id,
            })  # fmt: skip
            prev_hash = digest
        with factory.begin() as session:
            session.execute(insert(AuditEvent), rows)
    if factory.kw["bind"].dialect.name == "postgresql":
        # What autovacuum does after this many inserts; without it the planner, which thinks
        # the table is empty, sorts a whole department instead of walking seq backwards.
        with factory.begin() as session:
            session.execute(text("ANALYZE audit_events"))


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, p95) milliseconds of `runs` calls, after one warm-up call."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def cases(events: int) -> dict[str, tuple[frozenset[int] | None, dict[str, Any], int | None]]:
    """Case name → (departments, filters, before)."""
    middle = utcnow() - timedelta(days=4)
    return {
        "newest page, every department": (None, {}, None),
        "newest page, one department": (frozenset({2}), {}, None),
        "a page in the middle (before=N/2)": (frozenset({2}), {}, events // 2),
        "action = item.review": (frozenset({2}), {"action": "item.review"}, None),
        "action = role.grant (1 in 1,000)": (frozenset({2}), {"action": "role.grant"}, None),
        "actor = user:7": (frozenset({2}), {"actor": "user:7"}, None),
        "one day in the middle": (
            frozenset({2}),
            {"since": middle, "until": middle + timedelta(days=1)},
            None,
        ),
        "search 'label_42'": (frozenset({2}), {"q": "label_42"}, None),
        "search, no match": (frozenset({2}), {"q": "no such text"}, None),
    }


def run(url: str, *, events: int, runs: int) -> list[str]:
    engine = create_db_engine(url, audit_keys=(KEY,))
    rows = []
    try:
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        generate(factory, events)
        backend = engine.dialect.name
        for name, (departments, filters, before) in cases(events).items():
            query = EventFilter.model_validate(filters)

            def view(d: Any = departments, q: EventFilter = query, b: int | None = before) -> None:
                with factory() as session:
                    page = page_events(session, departments=d, filters=q, before=b, limit=50)
                    names_for(session, page.events)

            median, p95 = timed(view, runs)
            rows.append(f"| {backend} | {events:,} | {name} | {median:.1f} ms | {p95:.1f} ms |")
        rows += http_rows(url, factory, events, runs)
        started = time.perf_counter()
        exported = sum(
            chunk.count("\n")
            for chunk in export_events(
                factory, departments=frozenset({2}), filters=EventFilter(), fmt="jsonl"
            )
        )
        seconds = time.perf_counter() - started
        rows.append(
            f"| {backend} | {events:,} | export, one department (JSONL, {exported - 1:,} events) "
            f"| {seconds:.1f} s | {(exported - 1) / seconds:,.0f} events/s |"
        )
    finally:
        engine.dispose()
    return rows


def http_rows(url: str, factory: sessionmaker[Session], events: int, runs: int) -> list[str]:
    """The whole page over HTTP (TestClient), signed in as an auditor of one department, after
    a full verification (as `deshi audit verify` leaves it): listing, names, incremental check
    and rendering."""
    with factory.begin() as session:
        for name in ("Finance", "Legal", "Sales"):  # ids 1-3, the generated events' departments
            create_department(session, actor="bench", name=name)
        user = create_user(
            session, actor="bench", email="auditor@example.com", display_name="Auditor",
            password=PASSWORD, password_hasher=PasswordHasher("fast-insecure"),
        )  # fmt: skip
        grant_role(session, actor="bench", user_id=user.id, role=Role.AUDITOR, department_id=2)
    verify_and_remember(factory, full=True)
    settings = Settings(
        database_url=url, password_hash_profile="fast-insecure", audit_key=KEY.decode()
    )
    rows = []
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
        assert token is not None
        form = {"email": "auditor@example.com", "password": PASSWORD, "csrf_token": token[1]}
        client.post("/login", data=form)
        for name, params in (
            ("GET /audit (newest page)", {}),
            ("GET /audit?action=item.review", {"action": "item.review"}),
            ("GET /audit?before=N/2", {"before": str(events // 2)}),
        ):

            def view(p: dict[str, str] = params) -> None:
                assert client.get("/audit", params=p).status_code == 200

            median, p95 = timed(view, runs)
            backend = "postgresql" if url.startswith("postgresql") else "sqlite"
            rows.append(f"| {backend} | {events:,} | {name} | {median:.1f} ms | {p95:.1f} ms |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", help="also on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    print(machine())
    print("| backend | events | page of 50 (+ names) | median | p95 |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'audit.db'}"
        print("\n".join(run(url, events=args.events, runs=args.runs)), flush=True)
    if args.postgres:
        with postgres_schema(args.postgres, "audit_filters_bench") as url:
            print("\n".join(run(url, events=args.events, runs=args.runs)), flush=True)


if __name__ == "__main__":
    main()
