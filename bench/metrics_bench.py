"""What one `/metrics` scrape costs on a large workspace: the database collector's queries.

Builds a workspace of `--items` items in 10 processes (every tenth one queued for review), as many
jobs and webhook deliveries as a tenth of the items, and 1,000 stored model versions, then times
15 full expositions (`Metrics.exposition()`, the body `/metrics` answers) and prints the median
and the slowest.

    .venv/bin/python bench/metrics_bench.py [--items 200000] [--postgres postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from _support import machine, postgres_schema
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import (
    DeliveryStatus,
    Item,
    Job,
    JobStatus,
    ModelVersion,
    Webhook,
    WebhookDelivery,
)
from deshi.domain import ItemStatus, ModelStatus
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import create_department, create_process
from deshi.web.metrics import Metrics

PROCESSES = 10
SCRAPES = 15


def fill(factory: sessionmaker[Session], items: int) -> None:
    """The workspace described in the module docstring."""
    now = utcnow()
    with transaction(factory) as session:
        department = create_department(session, actor="bench", name="Ops")
        ids = [
            create_process(
                session, actor="bench", department_id=department.id, name=f"p{n}", labels=["a"]
            ).id
            for n in range(PROCESSES)
        ]
        hooks = [Webhook(process_id=pid, url="https://example.com/", secret="s") for pid in ids]
        session.add_all(hooks)
        session.flush()
        hook_ids = [hook.id for hook in hooks]
    with transaction(factory) as session:
        for start in range(0, items, 20_000):
            rows = [
                {
                    "process_id": ids[n % PROCESSES],
                    "text": "x",
                    "fields": {},
                    "status": ItemStatus.QUEUED if n % 10 == 0 else ItemStatus.COMPLETED,
                    "created_at": now - timedelta(seconds=n),
                }
                for n in range(start, min(items, start + 20_000))
            ]
            session.execute(insert(Item), rows)
        session.execute(
            insert(Job),
            [
                {
                    "kind": "webhooks.deliver",
                    "payload": {},
                    "status": JobStatus.QUEUED if n % 20 == 0 else JobStatus.DONE,
                    "run_after": now,
                }
                for n in range(items // 10)
            ],
        )
        session.execute(
            insert(WebhookDelivery),
            [
                {
                    "webhook_id": hook_ids[n % PROCESSES],
                    "event": "item.decided",
                    "payload": {},
                    "status": DeliveryStatus.FAILED if n % 50 == 0 else DeliveryStatus.DELIVERED,
                }
                for n in range(items // 10)
            ],
        )
        session.execute(
            insert(ModelVersion),
            [
                {
                    "process_id": ids[n % PROCESSES],
                    "version": n,
                    "status": ModelStatus.CHALLENGER,
                    "artifact": b"",
                    "metrics": {"seconds": 1.5},
                    "trained_on": 1,
                }
                for n in range(1000)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a throwaway schema is used")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.postgres:
            url = stack.enter_context(postgres_schema(args.postgres, "deshi_metrics_bench"))
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite:///{folder / 'deshi.db'}"
        engine = create_db_engine(url)
        stack.callback(engine.dispose)
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        fill(factory, args.items)
        metrics = Metrics(factory, AgentRegistry())
        seconds = []
        for _ in range(SCRAPES):
            started = time.perf_counter()
            metrics.exposition()
            seconds.append(time.perf_counter() - started)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(machine())
    print(
        f"| {backend} | {args.items:,} items, {args.items // 10:,} queued | "
        f"{statistics.median(seconds) * 1000:.1f} ms | {max(seconds) * 1000:.1f} ms |"
    )


if __name__ == "__main__":
    main()
