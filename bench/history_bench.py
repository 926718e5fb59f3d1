"""History import (issue #22, point 5): import speed and memory, the retrain after an import, and
the label audit's precision and recall on labels flipped at random.

Three measurements, each case in a fresh interpreter so its peak memory is its own:

- **import**: a GENERATED fixture CSV (`--rows` rows of 20 labels; texts made from a small
  vocabulary, named as a load fixture, not data) read from disk and imported into SQLite and
  PostgreSQL without retrain or audit, the path `deshi import … --no-retrain --no-audit` takes:
  rows per second and the process's peak RSS;
- **retrain**: BANKING77 train (10,003 rows, bundled) imported with the warm start and no audit:
  the retrain's seconds, the certified threshold and expected automation, peak RSS;
- **label audit**: BANKING77 train with `--flip` of its labels replaced at random by another
  label (seeded), imported without retrain, then audited at the default cut: precision and
  recall of the flags against the flipped rows, per seed.

    python bench/history_bench.py [--rows 10000 100000] [--seeds 0 1 2] [--flip 0.02]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import banking77_rows, machine, postgres_schema, prepare_process

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Item, LabelFlag
from deshi.history import audit
from deshi.history.reader import ColumnMap, HistoryRow, mapped_rows, open_table
from deshi.history.service import import_history
from deshi.learning.registry import AgentRegistry

FIXTURE_LABELS = [f"topic_{i:02d}" for i in range(20)]
WORDS = ["card", "transfer", "refund", "account", "payment", "balance", "limit", "fee", "cash",
         "statement", "pin", "app"]  # fmt: skip


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_fixture(path: Path, rows: int, seed: int = 0) -> None:
    """A generated CSV of `rows` labelled texts (load fixture, not data)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label", "seconds"])
        for i in range(rows):
            label = FIXTURE_LABELS[i % len(FIXTURE_LABELS)]
            words = " ".join(rng.choices(WORDS, k=12))
            writer.writerow([f"r{i}", f"{label} {words} {i}", label, rng.randint(60, 900)])


def _import_file(url: str, path: Path) -> dict[str, Any]:
    _, process_id = prepare_process(url, FIXTURE_LABELS, name="history")
    factory = make_session_factory(create_db_engine(url))
    mapping = ColumnMap(text="text", label="label", id="id", handling="seconds")
    started = time.perf_counter()
    with path.open("rb") as stream:
        summary = import_history(
            factory,
            actor="bench",
            process_id=process_id,
            rows=mapped_rows(open_table(stream, "csv"), mapping),
            registry=AgentRegistry(),
            train=False,
            audit_labels=False,
        )
    seconds = time.perf_counter() - started
    rate = round(summary.imported / seconds)
    return {"rows": summary.imported, "seconds": round(seconds, 2), "rows_per_s": rate,
            "peak_mib": round(_peak_mib())}  # fmt: skip


def _banking_rows(flip: float, seed: int) -> tuple[list[HistoryRow], set[str]]:
    data = banking77_rows()
    labels = sorted({label for _, label in data})
    rng = random.Random(seed)
    flipped = set(rng.sample(range(len(data)), round(flip * len(data))))
    rows = []
    for i, (text, label) in enumerate(data):
        if i in flipped:
            label = rng.choice([other for other in labels if other != label])
        rows.append(HistoryRow(row=i + 2, text=text, label=label, external_id=f"b{i}"))
    return rows, {f"b{i}" for i in flipped}


def _retrain(url: str) -> dict[str, Any]:
    rows, _ = _banking_rows(0.0, 0)
    labels = sorted({row.label for row in rows})
    _, process_id = prepare_process(url, labels, name="warm")
    factory = make_session_factory(create_db_engine(url))
    summary = import_history(
        factory, actor="bench", process_id=process_id, rows=rows,
        registry=AgentRegistry(), audit_labels=False,
    )  # fmt: skip
    return {"rows": summary.imported, "import_s": summary.seconds.get("import"),
            "retrain_s": summary.seconds.get("retrain"), "threshold": summary.threshold,
            "expected_automation": summary.expected_automation,
            "peak_mib": round(_peak_mib())}  # fmt: skip


def _label_audit(url: str, flip: float, seed: int) -> dict[str, Any]:
    rows, flipped = _banking_rows(flip, seed)
    labels = sorted({row.label for row in rows})
    _, process_id = prepare_process(url, labels, name=f"audit{seed}")
    factory = make_session_factory(create_db_engine(url))
    import_history(
        factory, actor="bench", process_id=process_id, rows=rows,
        registry=AgentRegistry(), train=False, audit_labels=False,
    )  # fmt: skip
    started = time.perf_counter()
    result = audit.audit_labels(factory, process_id=process_id, actor="bench")
    seconds = time.perf_counter() - started
    with transaction(factory) as session:
        query = select(Item.external_id).join(LabelFlag, LabelFlag.item_id == Item.id)
        flagged = {str(key) for key in session.scalars(query.where(Item.process_id == process_id))}
    hits = len(flagged & flipped)
    return {"seed": seed, "rows": len(rows), "flipped": len(flipped), "flagged": len(flagged),
            "precision": round(hits / len(flagged), 3) if flagged else None,
            "recall": round(hits / len(flipped), 3) if flipped else None,
            "estimated_noise_rate": result.noise_rate, "seconds": round(seconds, 1),
            "peak_mib": round(_peak_mib())}  # fmt: skip


def _case(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this interpreter (the parent runs each case in a fresh one)."""
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            with postgres_schema(args.postgres, "bench_history") as url:
                return _run(args, url, Path(tmp))
        return _run(args, f"sqlite:///{tmp}/bench.db", Path(tmp))


def _run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    if args.case == "import":
        path = tmp / "fixture.csv"
        write_fixture(path, args.rows)
        return _import_file(url, path)
    if args.case == "retrain":
        return _retrain(url)
    return _label_audit(url, args.flip, args.seed)


def _child(case: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, *extra]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--flip", type=float, default=0.02)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to measure it too")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--case", choices=["import", "retrain", "audit"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # a child: one case, one JSON line
        if args.case == "import":
            args.rows = args.rows[0]
        print(json.dumps(_case(args)))
        return
    backends = [("sqlite", [])] + ([("postgresql", ["--postgres", args.postgres])]
                                   if args.postgres else [])  # fmt: skip
    results: dict[str, Any] = {"machine": machine(), "import": [], "retrain": {}, "audit": []}
    for name, extra in backends:
        for rows in args.rows:
            found = _child("import", "--rows", str(rows), *extra)
            results["import"].append({"backend": name, **found})
            print(f"import {name} {rows:>7} rows: {found['rows_per_s']:>6} rows/s, "
                  f"peak {found['peak_mib']} MiB", flush=True)  # fmt: skip
    results["retrain"] = _child("retrain")
    print(f"retrain after BANKING77 train: {results['retrain']}", flush=True)
    for seed in args.seeds:
        found = _child("audit", "--seed", str(seed), "--flip", str(args.flip))
        results["audit"].append(found)
        print(f"label audit seed {seed}: {found}", flush=True)
    audits = results["audit"]
    if audits:
        print(f"label audit median precision {median(a['precision'] for a in audits)}, "
              f"recall {median(a['recall'] for a in audits)}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
