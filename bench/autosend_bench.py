"""Sending drafts without review (issue #25, point 5): what the certification costs the worker,
and what the auto-send switch adds to an ingest.

- **recertify**: `deshi.drafting.autosend_state.recertify` on a process holding N scored drafts
  (a share judged, the rest unjudged, a few audit samples): one query and the labels'
  fixed-sequence test. It runs in the worker once per burst of verdicts (a deduplicated job),
  never in a request.
- **enqueue**: `deshi.items.autosend.enqueue_autosend` for a batch of `--batch` auto-completed
  items, flushed: the rows the ingest transaction gains when the switch is on.

Synthetic data from a seeded RNG (scores uniform in [0.3, 1), 2 % of the judged drafts
changed), the same every run.

    nice -n 10 .venv/bin/python bench/autosend_bench.py [--drafts 1000 10000] [--runs 5]
        [--batch 1000] [--postgres URL]

Prints a markdown row per database and size: medians over the runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from _support import machine, postgres_schema
from sqlalchemy import insert

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import Item, Process, StoredDraft
from deshi.db.tables.drafts import DraftVerdict
from deshi.domain import ItemStatus, Mode
from deshi.drafting.autosend_state import recertify
from deshi.engine.types import Route
from deshi.items.autosend import enqueue_autosend
from deshi.processes.service import create_department, create_process

JUDGED_SHARE = 0.3
CHANGED_SHARE = 0.02
AUDIT_SHARE = 0.01


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def _fixture(url: str, drafts: int) -> tuple[object, int]:
    """A migrated database with one autopilot process holding `drafts` scored drafts."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    rng = random.Random(25)
    with transaction(factory) as session:
        department = create_department(session, actor="bench", name="Cards").id
        process = create_process(
            session, actor="bench", department_id=department, name="routing", labels=["card"]
        )
        process.mode, process.draft_autosend, process.error_budget = Mode.AUTOPILOT, True, 0.05
        now = datetime.now(UTC)
        rows = []
        for _ in range(drafts):
            judged = rng.random() < JUDGED_SHARE
            changed = rng.random() < CHANGED_SHARE
            rows.append(
                {
                    "department_id": department,
                    "process_id": process.id,
                    "drafter": "extractive",
                    "model": "",
                    "text": "x [1].",
                    "citations": [1],
                    "examples": 0,
                    "sentences": 1,
                    "supported_sentences": 1,
                    "faithfulness": 1.0,
                    "has_unsupported_claim": False,
                    "guardrails": [],
                    "redactions": 0,
                    "refusals": 0,
                    "injection_blocks": 0,
                    "model_failures": 0,
                    "created_by": "bench",
                    "created_at": now,
                    "score": rng.uniform(0.3, 1.0),
                    "verdict": (DraftVerdict.EDITED if changed else DraftVerdict.ACCEPTED)
                    if judged
                    else None,
                    "autosend": "audit_sample" if judged and rng.random() < AUDIT_SHARE else None,
                }
            )
        session.execute(insert(StoredDraft), rows)
        process_id = process.id
    return engine, process_id


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def _time_recertify(engine: object, process_id: int, runs: int) -> tuple[float, object]:
    factory = make_session_factory(engine)  # type: ignore[arg-type]
    samples, state = [], None
    for _ in range(runs):
        with transaction(factory) as session:
            process = session.get(Process, process_id)
            assert process is not None
            start = time.perf_counter()
            state = recertify(session, process=process)
            samples.append(time.perf_counter() - start)
            session.rollback()  # the next run computes from the same rows
    return _median_ms(samples), state


def _time_enqueue(engine: object, process_id: int, batch: int, runs: int) -> float:
    factory = make_session_factory(engine)  # type: ignore[arg-type]
    samples = []
    for _ in range(runs):
        with transaction(factory) as session:
            process = session.get(Process, process_id)
            assert process is not None
            items = [
                Item(process_id=process_id, text="x", status=ItemStatus.AUTO_COMPLETED)
                for _ in range(batch)
            ]
            session.add_all(items)
            session.flush()
            decisions = [SimpleNamespace(route=Route.AUTO)] * batch
            start = time.perf_counter()
            enqueue_autosend(session, process=process, items=items, decisions=decisions)  # type: ignore[arg-type]
            session.flush()
            samples.append(time.perf_counter() - start)
            session.rollback()
    return _median_ms(samples)


def _run(name: str, url: str, drafts: int, runs: int, batch: int) -> None:
    engine, process_id = _fixture(url, drafts)
    try:
        recertify_ms, state = _time_recertify(engine, process_id, runs)
        enqueue_ms = _time_enqueue(engine, process_id, batch, runs)
    finally:
        engine.dispose()  # type: ignore[attr-defined]
    threshold = getattr(state, "threshold", None)
    shown = "none" if threshold is None else f"{threshold:.3f}"
    print(
        f"| {name} | {drafts:,} | {recertify_ms} | {shown} | {batch:,} | {enqueue_ms} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--drafts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print("| database | scored drafts | recertify ms | threshold | batch | enqueue ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for drafts in args.drafts:
        with _sqlite() as url:
            _run("SQLite", url, drafts, args.runs, args.batch)
        if args.postgres:
            with postgres_schema(args.postgres, "autosend_bench") as url:
                _run("PostgreSQL", url, drafts, args.runs, args.batch)


if __name__ == "__main__":
    main()
