"""Retrieval quality of the knowledge base on real question–paragraph sets (issue #25, point 7).

Each paragraph of XQuAD (English, 240 paragraphs, 1,190 questions) or JSQuAD (Japanese, 1,145
paragraphs, 4,442 questions) becomes one document of a department's knowledge base, stored
through the product's own path (`deshi.knowledge.service.store_documents`: parse, chunk, embed,
SQLite tables and FTS5 index); every question is then searched through
`deshi.knowledge.search_many` in each mode. A document's rank is the rank of its best passage.
Reported: recall@1, recall@5 and MRR@10 of the paragraph that holds the answer, for full-text
ranking alone (BM25 over Sudachi words), embeddings alone (multilingual-e5-small) and the hybrid
(reciprocal rank fusion). Query embeddings are computed once and reused by every mode.

    nice -n 10 .venv/bin/python bench/retrieval_bench.py --dataset xquad_en
    nice -n 10 .venv/bin/python bench/retrieval_bench.py --dataset jsquad [--limit 500]

Datasets are read from ../shared/datasets (`--datasets DIR`); one thread for BLAS and the
embedder. `--postgres URL` runs on a throwaway schema of that database instead of a SQLite file.
Prints a markdown table and writes bench/results/retrieval-<dataset>[-postgresql].json. The wall
seconds of a mode cover all its searches; the first mode that needs embeddings (vector) also
embeds every question once, and the hybrid reuses those vectors.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and the embedder load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _support import postgres_schema
from numpy.typing import NDArray

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.engine.multilingual import shared_embedder
from deshi.knowledge import KnowledgeIndex, search_many
from deshi.knowledge.models import SearchMode
from deshi.knowledge.service import SourceFile, store_documents
from deshi.processes.service import create_department

ROOT = Path(__file__).resolve().parent.parent
FILES = {"xquad_en": "xquad_en/xquad.en.json", "jsquad": "jsquad/valid-v1.3.json"}
STORE_BATCH = 64
QUERY_BATCH = 256
PASSAGES_PER_QUERY = 30  # deep enough to rank 10 distinct documents
CUTOFF = 10


@dataclass(frozen=True)
class Question:
    text: str
    document: str  # the name of the paragraph's document


class QueryMemo:
    """The embedder, remembering query vectors so the three modes embed each question once."""

    def __init__(self) -> None:
        self.inner = shared_embedder()
        self.memo: dict[str, NDArray[np.float32]] = {}
        self.seconds = 0.0

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            started = time.perf_counter()
            for text, row in zip(missing, self.inner.queries(missing), strict=True):
                self.memo[text] = row
            self.seconds += time.perf_counter() - started
        return np.vstack([self.memo[t] for t in texts])

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.inner.passages(texts)


def load(path: Path) -> tuple[list[SourceFile], list[Question]]:
    """One document per paragraph, named by its position and article; answerable questions."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    files, questions = [], []
    for article in data:
        slug = re.sub(r"[^\w]+", "_", article["title"]).strip("_")[:60] or "article"
        for paragraph in article["paragraphs"]:
            name = f"{len(files):04d}-{slug}.txt"
            files.append(SourceFile(name, paragraph["context"].encode("utf-8")))
            for qa in paragraph["qas"]:
                if not qa.get("is_impossible", False):
                    questions.append(Question(qa["question"], name))
    return files, questions


def ranks(hits: Sequence[Sequence[str]], questions: Sequence[Question]) -> list[int | None]:
    """The 1-based rank of each question's document among the distinct documents found."""
    found: list[int | None] = []
    for documents, question in zip(hits, questions, strict=True):
        distinct = list(dict.fromkeys(documents))[:CUTOFF]
        found.append(
            distinct.index(question.document) + 1 if question.document in distinct else None
        )
    return found


def metrics(found: Sequence[int | None]) -> dict[str, float]:
    n = len(found)
    return {
        "recall@1": sum(1 for r in found if r == 1) / n,
        "recall@5": sum(1 for r in found if r is not None and r <= 5) / n,
        "mrr@10": sum(1.0 / r for r in found if r is not None) / n,
    }


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"{head} + uncommitted changes" if dirty else head


def run(dataset: str, datasets: Path, limit: int | None, db_url: str) -> dict[str, object]:
    files, questions = load(datasets / FILES[dataset])
    if limit is not None:
        questions = questions[:limit]
    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    embedder = QueryMemo()
    index = KnowledgeIndex(embedder=embedder)
    with transaction(factory) as session:
        department = create_department(session, actor="bench", name=dataset).id
    started = time.perf_counter()
    passages = 0
    for start in range(0, len(files), STORE_BATCH):
        with transaction(factory) as session:
            outcomes = store_documents(
                session,
                actor="bench",
                department_id=department,
                files=files[start : start + STORE_BATCH],
                index=index,
            )
        passages += sum(o.passages for o in outcomes)
    indexing = time.perf_counter() - started
    results: dict[str, object] = {}
    for mode in (SearchMode.LEXICAL, SearchMode.VECTOR, SearchMode.HYBRID):
        started = time.perf_counter()
        documents: list[list[str]] = []
        for start in range(0, len(questions), QUERY_BATCH):
            batch = questions[start : start + QUERY_BATCH]
            with transaction(factory) as session:
                found = search_many(
                    session,
                    department_id=department,
                    queries=[q.text for q in batch],
                    top_k=PASSAGES_PER_QUERY,
                    mode=mode,
                    index=index,
                )
            documents.extend([hit.document for hit in hits] for hits in found)
        elapsed = time.perf_counter() - started
        results[mode.value] = {**metrics(ranks(documents, questions)), "seconds": elapsed}
    engine.dispose()
    return {
        "dataset": dataset,
        "database": engine.dialect.name,
        "documents": len(files),
        "passages": passages,
        "questions": len(questions),
        "indexing_seconds": indexing,
        "query_embedding_seconds": embedder.seconds,
        "modes": results,
        "commit": commit(),
        "machine": machine(),
    }


def table(report: dict[str, object]) -> str:
    modes = report["modes"]
    assert isinstance(modes, dict)
    lines = [
        f"{report['dataset']} on {report['database']}: {report['documents']} documents "
        f"({report['passages']} passages), "
        f"{report['questions']} questions; indexing {report['indexing_seconds']:.0f} s, "
        f"query embeddings {report['query_embedding_seconds']:.0f} s",
        "",
        "| ranking | recall@1 | recall@5 | MRR@10 | wall s, all questions |",
        "|---|---|---|---|---|",
    ]
    for mode, row in modes.items():
        lines.append(
            f"| {mode} | {row['recall@1']:.3f} | {row['recall@5']:.3f} | {row['mrr@10']:.3f} "
            f"| {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(FILES), required=True)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument(
        "--postgres", metavar="URL", help="Run on a throwaway schema of this PostgreSQL database."
    )
    args = parser.parse_args()
    if args.postgres:
        with postgres_schema(args.postgres, "retrieval_bench") as url:
            report = run(args.dataset, args.datasets, args.limit, url)
    else:
        with tempfile.TemporaryDirectory(prefix="retrieval-bench-") as tmp:
            report = run(args.dataset, args.datasets, args.limit, f"sqlite:///{tmp}/bench.db")
    suffix = "-postgresql" if args.postgres else ""
    out = ROOT / "bench" / "results" / f"retrieval-{args.dataset}{suffix}.json"
    if args.limit is None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"commit {report['commit']}; {report['machine']}")
    print(table(report))


if __name__ == "__main__":
    main()
