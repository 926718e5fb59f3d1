"""The drafting KPI report at scale, with consistency and the checker's agreement (issue #25).

`GET /processes/{id}/drafting`, `deshi drafts kpis` and the dashboard all call
`process_drafting_report`: it reads every draft of the period with its item's text and arm and
the documents of the passages it cites, then computes the KPIs overall, per ISO week and per
arm. This times it on N stored drafts over 12 weeks in three arms, whose items are BANKING77
texts drawn with replacement from a pool (so questions repeat and consistency has pairs), each
draft citing one or two of 40 documents' passages, with random verdicts and flags, and storing
a 384-wide message vector (random, one per question, so repeats pair by embedding too: the time
of the cosines does not depend on their values). It also times the parts: reading the drafts
(`load_drafts`), the whole arithmetic, consistency alone (pairing and comparing answers) and
paraphrase consistency alone (the blocks of cosines) on the loaded records, and the repeated
view (`process_drafting_report` again on unchanged data: read from the KPI cache).

    .venv/bin/python bench/drafting_kpis_bench.py [--drafts 10000] [--pool 2000] [--runs 5] \
        [--postgres URL]

Prints a markdown row per database: medians over the runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from _support import banking77_rows, machine, postgres_schema
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import Item, KnowledgePassage, Process, StoredDraft
from deshi.db.tables.drafts import DraftVerdict
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents
from deshi.kpis.drafting import drafting_report
from deshi.kpis.drafting_agreement import consistency, paraphrase_consistency
from deshi.kpis.drafting_report import (
    fresh_drafting_report,
    load_drafts,
    process_drafting_report,
)
from deshi.processes.service import create_department, create_process

DOCUMENTS = 40
WEEKS = 12
ARMS = ("human_only", "assisted", "ai_led")
VERDICTS = (DraftVerdict.ACCEPTED, DraftVerdict.EDITED, DraftVerdict.REJECTED, None)
ANSWERS = (
    "Your card arrives within {n} working days [1]. If it has not, freeze it in the app [2].",
    "Top-ups by bank transfer take up to {n} days [1]. Card top-ups are instant [1].",
    "We exchange at the interbank rate plus {n}% on weekends [1].",
)


class RandomEmbedder:
    """Random unit vectors: the vectors' values play no part in the KPIs."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def _rows(self, texts: Sequence[str]) -> NDArray[np.float32]:
        rows = self._rng.standard_normal((len(texts), 16)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._rows(texts)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._rows(texts)


def _stock(session: Session, drafts: int, pool: int, seed: int) -> int:
    """A process with `drafts` drafts of items drawn from `pool` questions; its id."""
    department = create_department(session, actor="bench", name="Cards").id
    process = create_process(
        session, actor="bench", department_id=department, name="routing", labels=["a"]
    )
    files = [
        SourceFile(
            f"policy-{i}.md", f"# Policy {i}\n\nRule {i} applies within {i} days.\n".encode()
        )
        for i in range(DOCUMENTS)
    ]
    store_documents(
        session,
        actor="bench",
        department_id=department,
        files=files,
        index=KnowledgeIndex(embedder=RandomEmbedder()),
    )
    passages = list(session.scalars(select(KnowledgePassage.id)))
    rng = random.Random(seed)
    questions = [text for text, _ in banking77_rows(pool, shuffle_seed=seed)]
    vectors = np.random.default_rng(seed).standard_normal((pool, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = datetime.now(UTC) - timedelta(weeks=WEEKS)
    for n in range(drafts):
        question = rng.randrange(pool)
        item = Item(process_id=process.id, text=questions[question], arm=rng.choice(ARMS))
        session.add(item)
        session.flush()
        verdict = rng.choice(VERDICTS)
        flagged = rng.random() < 0.3
        session.add(
            StoredDraft(
                department_id=department,
                process_id=process.id,
                item_id=item.id,
                drafter="extractive",
                vector=vectors[question].astype("<f4").tobytes(),
                text=rng.choice(ANSWERS).format(n=rng.choice((3, 5, 7))),
                citations=rng.sample(passages, rng.choice((1, 2))),
                sentences=2,
                supported_sentences=1 if flagged else 2,
                faithfulness=0.5 if flagged else 1.0,
                has_unsupported_claim=flagged,
                created_by="bench",
                created_at=start + timedelta(minutes=n * WEEKS * 7 * 24 * 60 / drafts),
                verdict=verdict,
                edit_distance=None if verdict in (None, DraftVerdict.REJECTED) else 0.1,
            )
        )
    return process.id


def _median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _view(factory: sessionmaker[Session], process_id: int) -> None:
    """The report as a page or an API call reads it: a session of its own, through the cache
    (a long-lived SQLite session keeps its first snapshot and would not see the stored row)."""
    with factory() as session:
        process_drafting_report(session, session.get_one(Process, process_id))


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def measure(url: str, drafts: int, pool: int, runs: int) -> dict[str, float]:
    """Median milliseconds of the report and its parts on a freshly stocked database."""
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        process_id = _stock(session, drafts, pool, seed=7)
    _view(factory, process_id)  # computed and stored in the KPI cache
    with factory() as session:
        process = session.get_one(Process, process_id)
        records = load_drafts(session, process_id)
        report = drafting_report(records, process_id=process_id)
        found = {
            "report": _median_ms(lambda: fresh_drafting_report(session, process), runs),
            "cached": _median_ms(lambda: _view(factory, process_id), runs),
            "load": _median_ms(lambda: load_drafts(session, process_id), runs),
            "arithmetic": _median_ms(lambda: drafting_report(records, process_id=process_id), runs),
            "consistency": _median_ms(lambda: consistency(records), runs),
            "paraphrase": _median_ms(lambda: paraphrase_consistency(records), runs),
            "pairs": float(report.overall.consistency.pairs),
            "paraphrase_pairs": float(report.overall.paraphrase_consistency.pairs),
        }
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=2_000, help="Distinct questions drawn from.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="Also on PostgreSQL (a throw-away schema).")
    args = parser.parse_args()
    print(f"machine: {machine()}; {args.drafts:,} drafts, {args.pool:,} questions")
    print(
        "| database | pairs (exact, paraphrase) | report | repeated view (cached) | load "
        "| arithmetic | consistency alone | paraphrase consistency alone |"
    )
    print("|---|---|---|---|---|---|---|---|")
    targets: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [("SQLite", _sqlite)]
    if args.postgres:
        targets.append(("PostgreSQL", lambda: postgres_schema(args.postgres, "draftkpi")))
    for name, target in targets:
        with target() as url:
            m = measure(url, args.drafts, args.pool, args.runs)
        print(
            f"| {name} | {m['pairs']:,.0f}, {m['paraphrase_pairs']:,.0f} | {m['report']:,.0f} "
            f"| {m['cached']:,.0f} | {m['load']:,.0f} | {m['arithmetic']:,.0f} "
            f"| {m['consistency']:,.0f} | {m['paraphrase']:,.0f} |"
        )


if __name__ == "__main__":
    main()
