"""Agent restore (issue #23, point 3): how long a server or worker that has no agent in memory
takes to get one, and what its first decision costs after that.

A restarted API process, a fresh worker, or any process after a retrain made elsewhere builds
the process's agent with `AgentRegistry` before it can answer. This times exactly that: a fresh
registry's first `registry.agent(session, process)` (the restore), then one decision with it,
`--runs` times each in a fresh registry, medians printed. Two cases on the same fixture:

- **stored layout**: the champion as stored by this code, with its memory's search layout
  (model format 2), so the restore builds its index without an SVD;
- **no layout**: the same champion stored without it, as every version stored before format 2
  was, so the restore computes the SVD (what every restore did before format 2).

BLAS runs on one thread, as `deshi serve` and `deshi worker` set it (`DESHI_BLAS_THREADS`).

The fixture: BANKING77 training texts (bundled, CC BY 4.0), cycled and shuffled to `--items`
rows, imported as the team's history with the warm start's retrain (the path `deshi import`
takes), so the process has a champion trained on all of it. Rows beyond BANKING77's 10,003
repeat its texts under new ids: a load fixture for the restore's size, not a benchmark of
accuracy.

    nice -n 10 .venv/bin/python bench/agent_restore_bench.py [--items 10000 100000] [--runs 3]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-sqlite] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import banking77_rows, machine, postgres_schema, prepare_process
from sqlalchemy import select

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import ModelVersion, Process
from deshi.domain import ModelStatus
from deshi.engine.blas import limit_blas_threads
from deshi.engine.serialize import dump_model, load_model
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.learning.registry import AgentRegistry


def _fixture(url: str, items: int) -> int:
    data = banking77_rows(items, shuffle_seed=0)
    labels = sorted({label for _, label in data})
    _, process_id = prepare_process(url, labels, name=f"restore{items}")
    rows = [
        HistoryRow(row=i + 2, text=text, label=label, external_id=f"h{i}")
        for i, (text, label) in enumerate(data)
    ]
    factory = make_session_factory(create_db_engine(url))
    started = time.perf_counter()
    summary = import_history(
        factory,
        actor="bench",
        process_id=process_id,
        rows=rows,
        registry=AgentRegistry(),
        audit_labels=False,
    )
    print(
        f"  fixture: {summary.imported} rows imported and trained in "
        f"{time.perf_counter() - started:.1f} s (threshold {summary.threshold})",
        file=sys.stderr,
    )
    return process_id


def _restore_once(url: str, process_id: int, profile: bool) -> tuple[float, float]:
    factory = make_session_factory(create_db_engine(url))
    registry = AgentRegistry()
    profiler = cProfile.Profile() if profile else None
    with transaction(factory) as session:
        process = session.get(Process, process_id)
        assert process is not None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        with registry.agent(session, process) as entry:
            restored = time.perf_counter() - started
            if profiler:
                profiler.disable()
            started = time.perf_counter()
            entry.agent.decide("I still have not received my new card, what should I do?")
            decided = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    return restored, decided


def _drop_layout(url: str, process_id: int) -> None:
    """Store the champion again without its search layout, as format 1 stored every version."""
    factory = make_session_factory(create_db_engine(url))
    with transaction(factory) as session:
        row = session.scalars(
            select(ModelVersion).where(
                ModelVersion.process_id == process_id,
                ModelVersion.status == ModelStatus.CHAMPION,
            )
        ).one()
        model = load_model(row.artifact)
        assert model.search_layout is not None, "the fixture's champion has no layout"
        row.artifact = dump_model(replace(model, search_layout=None))


def _measure(url: str, items: int, runs: int, profile: bool) -> list[dict[str, Any]]:
    process_id = _fixture(url, items)
    results = []
    for case in ("stored layout", "no layout"):
        if case == "no layout":
            _drop_layout(url, process_id)
        restores, decisions = [], []
        for run in range(runs):
            restored, decided = _restore_once(url, process_id, profile and run == 0)
            restores.append(restored)
            decisions.append(decided)
            print(f"  {case}, run {run}: restore {restored:.2f} s, first decision "
                  f"{decided * 1000:.1f} ms", file=sys.stderr)  # fmt: skip
        results.append({
            "case": case,
            "items": items,
            "restore_s": round(statistics.median(restores), 2),
            "restore_range": (round(min(restores), 2), round(max(restores), 2)),
            "first_decision_ms": round(statistics.median(decisions) * 1000, 1),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        })  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the first restore")
    args = parser.parse_args()
    limit_blas_threads(1)
    print(machine(), file=sys.stderr)
    results: list[tuple[str, dict[str, Any]]] = []
    for items in args.items:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/restore.db"
                print(f"SQLite, {items} items", file=sys.stderr)
                results += [("SQLite", r) for r in _measure(url, items, args.runs, args.profile)]
        if args.postgres:
            with postgres_schema(args.postgres, "restore") as url:
                print(f"PostgreSQL, {items} items", file=sys.stderr)
                results += [
                    ("PostgreSQL", r) for r in _measure(url, items, args.runs, args.profile)
                ]
    print("| database | items | champion | restore s (median, range) | first decision ms | "
          "peak MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, r in results:
        low, high = r["restore_range"]
        print(f"| {name} | {r['items']:,} | {r['case']} | {r['restore_s']} ({low}–{high}) | "
              f"{r['first_decision_ms']} | {r['peak_mib']} |")  # fmt: skip


if __name__ == "__main__":
    main()
