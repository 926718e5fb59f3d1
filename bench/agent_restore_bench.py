"""Agent restore (issue #23, point 3): how long a server or worker that has no agent in memory
takes to get one, and what its first decision costs after that.

A restarted API process, a fresh worker, or any process after a retrain made elsewhere builds
the process's agent with `AgentRegistry` before it can answer. This times exactly that: a fresh
registry's first `registry.agent(session, process)` (the restore), then one decision with it,
`--runs` times each in a fresh registry, medians printed. Four cases on the same fixture:

- **stored index**: the champion as stored by this code, with its memory's search index
  (model format 4), so the restore neither vectorises the memory nor builds its index;
- **stored rows**: the same champion with its memory's rows and search layout, as format 3
  stored them, so the restore builds the index from the rows but vectorises nothing;
- **stored layout**: the same champion stored with its layout only, as format 2 stored every
  version, so the restore vectorises the memory's texts;
- **no layout**: stored with neither, as format 1 did, so the restore also computes the SVD.

A fixture built by code before format 3 holds a champion without rows: it is stored again with
them first, as this code's retrain would have stored it (an agent restored from the fixture
gives them). The script also runs on a tree before format 4 (no "stored index" case then) or
format 3 (no "stored rows" either), for interleaved before/after runs. Each restore starts after
a garbage collection, so no run pays for freeing the agent of the run before it.

BLAS runs on one thread, as `deshi serve` and `deshi worker` set it (`DESHI_BLAS_THREADS`).

The fixture: BANKING77 training texts (bundled, CC BY 4.0), cycled and shuffled to `--items`
rows, imported as the team's history with the warm start's retrain (the path `deshi import`
takes), so the process has a champion trained on all of it. Rows beyond BANKING77's 10,003
repeat its texts under new ids: a load fixture for the restore's size, not a benchmark of
accuracy.

    nice -n 10 .venv/bin/python bench/agent_restore_bench.py [--items 10000 100000] [--runs 3]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-sqlite] [--profile]
        [--keep DIR] [--live N] [--stages] [--cases "stored rows" ...] [--postgres-as-is]

`--stages` times one more restore per case (not counted) stage by stage: reading the versions
and the history, loading the model, vectorising the memory's texts, building its index, the
champion's recalibration, the registry's garbage collection.

`--keep DIR` keeps each SQLite fixture as DIR/restore-<items>.db and reuses it on the next run
(the 100,000-item fixture took 19 to 33 minutes to build); the champion's artifact as the
fixture was built is put back when the cases are done, so a kept fixture stays as built.

`--postgres-as-is` uses the `--postgres` database itself instead of a temporary schema, and
reuses a fixture kept there: a copy of a kept SQLite fixture (`bench/copy_to_postgres.py`) saves
building one again. `--cases` runs only the cases named.

`--live N` adds N live items after the import (once per fixture), as a team's work after the
go-live: the champion decides them (`decide_items`, stored with their evidence as the API stores
them), items routed to a human get their true label as a review, auto-completed ones none. A
restore then also reads their decisions, which an imported history has none of.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import pstats
import resource
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _support import banking77_rows, machine, postgres_schema, prepare_process
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Item, ModelVersion, Process, Review, User
from deshi.domain import ItemOrigin, ItemStatus, ModelStatus, ReviewAction
from deshi.engine import Agent, Route, TrainedModel, serialize
from deshi.engine.blas import limit_blas_threads
from deshi.engine.featurize import TfidfFeaturizer
from deshi.engine.search import SimilarityIndex
from deshi.engine.serialize import dump_model, load_model
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.items.repo import insert_item
from deshi.learning import registry as registry_module
from deshi.learning import repo
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import decide_items, decision_rows


def _fixture(url: str, items: int) -> int:
    kept = _kept_process(url, items)
    if kept is not None:
        print(f"  fixture: reused process {kept}", file=sys.stderr)
        return kept
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


def _add_live(url: str, process_id: int, live: int) -> None:
    """`live` live items decided by the champion, answered as a team would (see the module)."""
    engine = create_db_engine(url)
    try:
        _decide_live(make_session_factory(engine), process_id, live)
    finally:
        engine.dispose()


def _decide_live(factory: sessionmaker[Session], process_id: int, live: int) -> None:
    with transaction(factory) as session:
        held = session.scalar(
            select(func.count(Item.id)).where(
                Item.process_id == process_id, Item.origin == ItemOrigin.LIVE.value
            )
        )
        if held:
            print(f"  live items: {held} already there", file=sys.stderr)
            return
        process = session.get_one(Process, process_id)
        reviewer = session.scalars(select(User.id).order_by(User.id)).first()
        assert reviewer is not None
        started = time.perf_counter()
        rows = banking77_rows(live, shuffle_seed=1)
        items = [
            insert_item(session, process_id=process_id, text=text, external_id=f"live{i}")
            for i, (text, _) in enumerate(rows)
        ]
        session.flush()
        decisions = decide_items(session, process=process, items=items, registry=AgentRegistry())
        session.add_all(decision_rows(session, process=process, items=items, decisions=decisions))
        routes: dict[Route, int] = {}
        for item, decision, (_, label) in zip(items, decisions, rows, strict=True):
            routes[decision.route] = routes.get(decision.route, 0) + 1
            if decision.route is Route.AUTO:
                item.status = ItemStatus.AUTO_COMPLETED
                continue
            item.status = ItemStatus.COMPLETED
            action = ReviewAction.ACCEPT if decision.label == label else ReviewAction.CORRECT
            session.add(
                Review(
                    item_id=item.id,
                    reviewer_id=reviewer,
                    action=action,
                    final_label=label,
                    blind=decision.route is Route.AUDIT,
                )
            )
    counts = ", ".join(f"{route.value} {n}" for route, n in sorted(routes.items()))
    print(f"  live items: {live} added in {time.perf_counter() - started:.1f} s ({counts})",
          file=sys.stderr)  # fmt: skip


def _kept_process(url: str, items: int) -> int | None:
    """The process of a fixture built by an earlier run in this database, if there is one."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    engine = create_db_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            found = session.scalars(
                select(Process.id).where(Process.name == f"restore{items}")
            ).first()
            has_champion = (
                found is not None
                and session.scalars(
                    select(ModelVersion.id).where(
                        ModelVersion.process_id == found,
                        ModelVersion.status == ModelStatus.CHAMPION,
                    )
                ).first()
            )
    finally:
        engine.dispose()
    return found if has_champion else None


def _restore_once(url: str, process_id: int, profile: bool) -> tuple[float, float, float]:
    """Seconds of one restore (wall and CPU) and of the first decision after it."""
    factory = make_session_factory(create_db_engine(url))
    registry = AgentRegistry()
    gc.collect()  # the runs before: a server restoring has no other registry's agent to free
    profiler = cProfile.Profile() if profile else None
    with transaction(factory) as session:
        process = session.get(Process, process_id)
        assert process is not None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        with registry.agent(session, process) as entry:
            restored, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler:
                profiler.disable()
            started = time.perf_counter()
            entry.agent.decide("I still have not received my new card, what should I do?")
            decided = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    return restored, cpu, decided


def _champion_row(session: Session, process_id: int) -> ModelVersion:
    return session.scalars(
        select(ModelVersion).where(
            ModelVersion.process_id == process_id, ModelVersion.status == ModelStatus.CHAMPION
        )
    ).one()


ROWS = "memory_vectors" in {f.name for f in dataclasses.fields(TrainedModel)}  # format 3
INDEX = hasattr(SimilarityIndex, "from_arrays")  # format 4
CASES = (
    (("stored index",) if INDEX else ())
    + (("stored rows",) if ROWS else ())
    + ("stored layout", "no layout")
)


def _store_champion(url: str, process_id: int, artifact: bytes) -> None:
    factory = make_session_factory(create_db_engine(url))
    with transaction(factory) as session:
        _champion_row(session, process_id).artifact = artifact


def _stored_champion(url: str, process_id: int) -> bytes:
    factory = make_session_factory(create_db_engine(url))
    with transaction(factory) as session:
        return _champion_row(session, process_id).artifact


def _with_rows(url: str, process_id: int) -> bytes:
    """The champion's artifact with its memory's rows: as stored, or if it has none (a fixture
    built before format 3), as this code's retrain would have stored it."""
    artifact = _stored_champion(url, process_id)
    if not ROWS or getattr(load_model(artifact), "memory_vectors", None) is not None:
        return artifact
    factory = make_session_factory(create_db_engine(url))
    with transaction(factory) as session:
        process = session.get_one(Process, process_id)
        with AgentRegistry().agent(session, process) as entry:
            champion = entry.agent.champion
            assert champion is not None
            installed = next(v for v in entry.agent.versions if v.version == champion.version)
            started, peak = time.perf_counter(), _peak_mib()
            artifact = dump_model(installed)  # as installed, before its live recalibration
    print(f"  the champion stored with its rows: dump_model {time.perf_counter() - started:.2f} s"
          f", peak {peak} -> {_peak_mib()} MiB", file=sys.stderr)  # fmt: skip
    return artifact


def _peak_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _case_artifact(artifact: bytes, case: str) -> bytes:
    """The champion's artifact as the case stores it (see the module)."""
    model = load_model(artifact)
    if case in ("stored index", "stored rows"):
        assert getattr(model, "memory_vectors", None) is not None, "the champion has no rows"
        stored = dump_model(model)  # this code's format, whatever format the fixture holds
        return _as_format_3(stored) if case == "stored rows" and INDEX else stored
    assert model.search_layout is not None, "the fixture's champion has no layout"
    dropped: dict[str, Any] = {"memory_vectors": None} if ROWS else {}
    if case == "no layout":
        dropped["search_layout"] = None
    return dump_model(replace(model, **dropped))


def _as_format_3(artifact: bytes) -> bytes:
    """The model file as format 3 stored it: its memory's rows in place of its index (the
    members `_memory_vectors` wrote then: CSR arrays, stored without compression)."""
    model = load_model(artifact)
    vectors = model.memory_vectors
    assert vectors is not None
    rows = vectors.rows()
    with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
        document = json.loads(archive.read("model.json"))
        members = {
            name: archive.read(name)
            for name in archive.namelist()
            if name != "model.json" and not name.startswith("arrays/memory_vectors/")
        }
    stored: dict[str, Any] = {"size": vectors.size, "digest": vectors.digest}
    stored["width"] = int(rows.shape[1])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in ("data", "indices", "indptr"):
            npy = io.BytesIO()
            np.save(npy, getattr(rows, part), allow_pickle=False)
            archive.writestr(f"arrays/memory_vectors/{part}.npy", npy.getvalue())
            stored[part] = {"$array": f"memory_vectors/{part}"}
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
        document["format_version"] = 3
        document["model"]["memory_vectors"] = stored
        archive.writestr("model.json", json.dumps(document, ensure_ascii=False))
    return buffer.getvalue()


def _measure(
    url: str,
    items: int,
    runs: int,
    profile: bool,
    live: int = 0,
    stages: bool = False,
    cases: tuple[str, ...] = CASES,
) -> list[dict[str, Any]]:
    process_id = _fixture(url, items)
    if live:
        _add_live(url, process_id, live)
    results = []
    original = _stored_champion(url, process_id)
    full = _with_rows(url, process_id)
    try:
        for case in cases:
            artifact = _case_artifact(full, case)
            _store_champion(url, process_id, artifact)
            print(f"  {case}: champion artifact {len(artifact) / 1e6:.1f} MB", file=sys.stderr)
            if stages:
                _stages(url, process_id, case)
            results.append(_measure_case(url, process_id, case, items, runs, profile))
            results[-1]["live"] = live
    finally:
        _store_champion(url, process_id, original)
    return results


def _measure_case(
    url: str, process_id: int, case: str, items: int, runs: int, profile: bool
) -> dict[str, Any]:
    if profile:  # an extra restore, not counted: the profiler slows it down
        _restore_once(url, process_id, profile=True)
    restores, cpus, decisions = [], [], []
    for run in range(runs):
        restored, cpu, decided = _restore_once(url, process_id, profile=False)
        restores.append(restored)
        cpus.append(cpu)
        decisions.append(decided)
        print(f"  {case}, run {run}: restore {restored:.2f} s ({cpu:.2f} CPU-s), first decision "
              f"{decided * 1000:.1f} ms", file=sys.stderr)  # fmt: skip
    return {
        "case": case,
        "items": items,
        "restore_s": round(statistics.median(restores), 2),
        "restore_range": (round(min(restores), 2), round(max(restores), 2)),
        "restore_cpu_s": round(statistics.median(cpus), 2),
        "first_decision_ms": round(statistics.median(decisions) * 1000, 1),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# Stages of a restore, timed by wrapping the functions that do them (named alike in this code
# and in the code before format 3).
_STAGES: list[tuple[str, Any, str]] = [
    (
        "read versions",
        repo,
        "load_artifacts" if hasattr(repo, "load_artifacts") else "load_versions",
    ),
    ("load model", registry_module, "load_model"),
    ("read history", repo, "load_history"),
    ("vectorise texts", TfidfFeaturizer, "transform"),
    ("build index", SimilarityIndex, "__init__"),
    *([("read the stored index", serialize, "_index")] if hasattr(serialize, "_index") else []),
    ("recalibrate", Agent, "_refresh_champion_calibration"),
    ("garbage collection", registry_module, "_give_back_freed_memory"),
    ("giving the heap back", registry_module, "release_free_heap"),
]


def _stages(url: str, process_id: int, case: str) -> None:
    """One restore (not counted), with each stage's wall seconds; "rest" is the restore's time
    outside them (mostly replaying the observations into the memory and the monitor)."""
    spent: dict[str, float] = {}
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in _STAGES]
    for (stage, _, _), (owner, name, function) in zip(_STAGES, originals, strict=True):
        setattr(owner, name, _timed(function, stage, spent))
    try:
        restored, _, _ = _restore_once(url, process_id, profile=False)
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
    parts = ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in spent.items())
    rest = restored - sum(spent.values())
    print(f"  {case}, stages (s): restore {restored:.2f} = {parts}, rest {rest:.2f}",
          file=sys.stderr)  # fmt: skip


def _timed(function: Any, stage: str, spent: dict[str, float]) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - started

    return timed


@contextmanager
def _sqlite_folder(keep: Path | None) -> Iterator[Path]:
    """`keep` (created if missing), or a temporary folder removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one more restore, before the timed ones"
    )
    parser.add_argument("--live", type=int, default=0, help="live items decided after the import")
    parser.add_argument(
        "--stages", action="store_true", help="time one more restore per case stage by stage"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep and reuse the SQLite fixtures in this folder"
    )
    parser.add_argument(
        "--postgres-as-is",
        action="store_true",
        help="use the --postgres database itself (a fixture kept there is reused), not a "
        "temporary schema",
    )
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args()
    cases = tuple(args.cases)
    limit_blas_threads(1)
    print(machine(), file=sys.stderr)
    results: list[tuple[str, dict[str, Any]]] = []
    for items in args.items:
        if not args.no_sqlite:
            with _sqlite_folder(args.keep) as folder:
                url = f"sqlite:///{folder}/restore-{items}.db"
                print(f"SQLite, {items} items", file=sys.stderr)
                results += [
                    ("SQLite", r)
                    for r in _measure(
                        url, items, args.runs, args.profile, args.live, args.stages, cases
                    )
                ]
        if args.postgres:
            database = (
                nullcontext(args.postgres)
                if args.postgres_as_is
                else postgres_schema(args.postgres, "restore")
            )
            with database as url:
                print(f"PostgreSQL, {items} items", file=sys.stderr)
                results += [
                    ("PostgreSQL", r)
                    for r in _measure(
                        url, items, args.runs, args.profile, args.live, args.stages, cases
                    )
                ]
    print("| database | items | champion | restore s (median, range) | restore CPU-s | "
          "first decision ms | peak MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, r in results:
        low, high = r["restore_range"]
        items = f"{r['items']:,}" + (f" + {r['live']:,} live" if r["live"] else "")
        print(f"| {name} | {items} | {r['case']} | {r['restore_s']} ({low}–{high}) | "
              f"{r['restore_cpu_s']} | {r['first_decision_ms']} | {r['peak_mib']} |")  # fmt: skip


if __name__ == "__main__":
    main()
