"""Evidence passages: what finding them adds to the workbench's next-item request (issue #25).

The next-item request is `POST /ui/processes/{id}/next`, whose work is `claim_next`; with the
app's knowledge index it also finds and stores the held item's evidence passages on the item's
first view (`deshi.items.passages`). This times `claim_next` in-process, each claim in its own
transaction as a request has, in three cases, on the same queue of Japanese questions:

- baseline: no index (what the request cost before evidence passages);
- first view: the real index (multilingual-e5-small query embedding, full-text and vector
  rankings, fusion, the stored row) against a realistic knowledge base;
- empty knowledge base: the real index, a department without documents.

The knowledge base is every JSQuAD validation paragraph (1,145 Wikipedia paragraphs, ~1,150
passages; `--copies N` stores it N times as distinct documents for a larger one), stored through
`store_documents` (parse, chunk, Sudachi words into FTS5 / tsvector) but with random unit
vectors instead of passage embeddings: embedding them would take ~15 minutes here and the
vectors' values do not change the cost of a search (one matrix product over all of them). The
queries are embedded for real. The items are JSQuAD questions (they have answers in the base).

    .venv/bin/python bench/passages_bench.py [--items 40] [--copies 1] [--postgres URL]

One thread for BLAS and the embedder; the model is loaded and warmed before timing. Prints a
markdown table (p50 / p95 / max ms per claim).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and the embedder load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from _support import machine, postgres_schema
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import KnowledgePassage
from deshi.domain import Role
from deshi.engine.multilingual import shared_embedder
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, ingest_items
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Grant, Principal
from deshi.processes.service import create_department, create_process
from deshi.reviews.service import claim_next

ROOT = Path(__file__).resolve().parent.parent
JSQUAD = "jsquad/valid-v1.3.json"
DIMENSIONS = 384  # multilingual-e5-small
STORE_BATCH = 128


class RandomPassages:
    """Real query embeddings; random unit vectors for passages (see the module docstring)."""

    def __init__(self) -> None:
        self.inner = shared_embedder()
        self.rng = np.random.default_rng(0)

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.inner.queries(texts)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        rows = self.rng.standard_normal((len(texts), DIMENSIONS)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows


def load(datasets: Path, copies: int) -> tuple[list[SourceFile], list[str]]:
    """JSQuAD paragraphs as documents (`copies` times) and its questions."""
    data = json.loads((datasets / JSQUAD).read_text(encoding="utf-8"))["data"]
    paragraphs = [p for article in data for p in article["paragraphs"]]
    files = [
        SourceFile(f"{copy}-{n:04d}.txt", p["context"].encode("utf-8"))
        for copy in range(copies)
        for n, p in enumerate(paragraphs)
    ]
    questions = [qa["question"] for p in paragraphs for qa in p["qas"]]
    return files, questions


def prepare(
    factory: sessionmaker[Session], files: Sequence[SourceFile], index: KnowledgeIndex
) -> tuple[Principal, int, int]:
    """A reviewer; a process in a stocked department and one in an empty department."""
    with transaction(factory) as session:
        stocked = create_department(session, actor="bench", name="Stocked").id
        empty = create_department(session, actor="bench", name="Empty").id
        processes = [
            create_process(session, actor="bench", department_id=d, name="qa", labels=["a", "b"]).id
            for d in (stocked, empty)
        ]
        user = create_user(session, actor="bench", email="r@example.com", display_name="r").id
    for start in range(0, len(files), STORE_BATCH):
        with transaction(factory) as session:
            store_documents(
                session,
                actor="bench",
                department_id=stocked,
                files=files[start : start + STORE_BATCH],
                index=index,
            )
    grants = [Grant(Role.OWNER, stocked), Grant(Role.OWNER, empty)]
    return Principal.of(user, grants), processes[0], processes[1]


def ingest(factory: sessionmaker[Session], who: Principal, process: int, texts: list[str]) -> None:
    ingest_items(
        factory,
        principal=who,
        process_id=process,
        items=[ItemCreate(text=t) for t in texts],
        limits=IngestLimits(),
        batch=True,
        registry=AgentRegistry(),
    )


def timed_claims(
    factory: sessionmaker[Session],
    who: Principal,
    process: int,
    count: int,
    index: KnowledgeIndex | None,
    check: Callable[[int], None],
) -> list[float]:
    """Milliseconds of `count` claims of fresh items (each held, so the next is a new one)."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        with transaction(factory) as session:
            claimed = claim_next(
                session, principal=who, process_id=process, resume_held=False, index=index
            )
        timings.append((time.perf_counter() - started) * 1000)
        assert claimed is not None, "the queue ran out"
        check(len(claimed.evidence_passages))
    return timings


def row(case: str, timings: list[float], backend: str) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {case} ({backend}) | {len(ordered)} | {statistics.median(ordered):.1f} "
        f"| {p95:.1f} | {ordered[-1]:.1f} |"
    )


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    if postgres:
        with postgres_schema(postgres, "passages_bench") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/passages.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40, help="claims timed per case")
    parser.add_argument("--copies", type=int, default=1, help="times the paragraphs are stored")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a throwaway schema is used)")
    args = parser.parse_args()
    files, questions = load(args.datasets, args.copies)
    index = KnowledgeIndex(embedder=RandomPassages())
    with database(args.postgres) as url:
        engine = create_db_engine(url)
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        who, stocked, empty = prepare(factory, files, index)
        stored_seconds = time.perf_counter() - started
        with factory() as session:
            passages = session.scalar(select(func.count(KnowledgePassage.id)))
        n = args.items
        ingest(factory, who, stocked, questions[: 2 * n + 1])
        ingest(factory, who, empty, questions[: n + 1])
        index.embedder.queries(["ウォームアップ"])  # load the model outside the timings

        def found(count: int) -> None:
            assert count > 0, "a stocked department found no passage"

        def none(count: int) -> None:
            assert count == 0, "an empty department found passages"

        def anything(count: int) -> None:
            del count

        backend = engine.url.get_backend_name()
        timed_claims(factory, who, stocked, 1, index, found)  # warm the vector cache
        timed_claims(factory, who, empty, 1, index, none)
        rows = [
            row(
                "baseline: no index",
                timed_claims(factory, who, stocked, n, None, anything),
                backend,
            ),
            row(
                "first view, stocked", timed_claims(factory, who, stocked, n, index, found), backend
            ),
            row(
                "first view, empty base", timed_claims(factory, who, empty, n, index, none), backend
            ),
        ]
        engine.dispose()
    print(f"knowledge base: {passages:,} passages ({len(files):,} documents, stored in "
          f"{stored_seconds:.0f} s with random vectors); {machine()}")  # fmt: skip
    print("| case | claims | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
