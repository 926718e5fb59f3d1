"""Knowledge base at 10,000 passages: indexing speed and query latency (issue #25, point 7).

Indexing goes through `deshi knowledge sync`'s service function (`sync_directory`: read the
folder, parse, chunk, Sudachi words into FTS5 / tsvector, embed, store, audit; 32 files per
transaction). The embedder is wrapped so that the seconds spent embedding are counted apart from
everything else ("rest"). Two syncs, each of a folder of PDFs and then a folder of text files:

- sample, real embeddings (`--sample`, ~500 passages): JSQuAD articles as Japanese PDFs (one
  paragraph per page) and XQuAD paragraphs (English) as text files, embedded by the shipped
  multilingual-e5-small into their own department;
- the full base, random vectors (`--passages`, 10,000): all 59 JSQuAD articles as PDFs (1,145
  pages), then XQuAD and JSQuAD paragraphs as text files, one document each, the sets copied as
  distinct documents (same text, other name) until the base holds `--passages` passages. Each
  passage gets a random unit vector instead of its embedding, as in passages_bench.py:
  embedding 10,000 passages takes ~45 minutes on 2 shared cores, and the vectors' values
  change neither what storing nor what searching costs. Its embedding time is therefore not
  measured (the sample's rate estimates it); its rest is.

The PDFs are written by the tests' `japanese_pdf` (tests/knowledge_fakes.py): a CID-keyed font
with a ToUnicode map, as real Japanese PDFs are, but no glyphs and one line per page, so they
are smaller and quicker to read than a typeset document.

Query latency: `--questions` real questions, half JSQuAD (Japanese), half XQuAD (English), taken
evenly across each set, each searched alone through `deshi knowledge search`'s service function
(`deshi.knowledge.search`: hybrid, top 5, its own read transaction), query embedding included,
against the full base, then with each ranking alone (full text, embeddings) to show what the
hybrid is made of. The model is loaded and the department's vector matrix cached by a first
search, timed apart. Copies make every JSQuAD paragraph appear several times, so the full-text
ranking matches more passages than in a base of distinct documents (an upper bound on its cost).

    nice -n 10 .venv/bin/python bench/knowledge_index_bench.py [--postgres URL]

One thread for BLAS and the embedder. Datasets from ../shared/datasets (`--datasets DIR`).
Prints markdown tables; writes bench/results/knowledge-index-<database>.json.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and the embedder load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # japanese_pdf

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from _support import machine, postgres_schema
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import KnowledgePassage
from deshi.engine.multilingual import DIMENSIONS, shared_embedder
from deshi.knowledge import KnowledgeIndex, search
from deshi.knowledge.chunk import chunk_blocks
from deshi.knowledge.models import SearchMode
from deshi.knowledge.parse import parse_file
from deshi.knowledge.service import sync_directory
from deshi.processes.service import create_department
from knowledge_fakes import japanese_pdf

ROOT = Path(__file__).resolve().parent.parent
JSQUAD = "jsquad/valid-v1.3.json"
XQUAD = "xquad_en/xquad.en.json"


@dataclass(frozen=True)
class Paragraph:
    text: str
    passages: int  # how many passages it makes (chunked as a text file)


@dataclass(frozen=True)
class Article:
    slug: str
    paragraphs: list[Paragraph]

    @property
    def passages(self) -> int:
        return sum(p.passages for p in self.paragraphs)


class TimedEmbedder:
    """The real embedder, timed; with `random_passages`, random unit rows for passages."""

    def __init__(self, *, random_passages: bool) -> None:
        self.inner = shared_embedder()
        self.random_passages = random_passages
        self.rng = np.random.default_rng(0)
        self.passage_seconds = 0.0
        self.passage_count = 0
        self.query_ms: list[float] = []

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        started = time.perf_counter()
        rows = self.inner.queries(texts)
        self.query_ms.append((time.perf_counter() - started) * 1000)
        return rows

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        started = time.perf_counter()
        if self.random_passages:
            rows = self.rng.standard_normal((len(texts), DIMENSIONS)).astype(np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        else:
            rows = self.inner.passages(texts)
        self.passage_seconds += time.perf_counter() - started
        self.passage_count += len(texts)
        return rows


@dataclass
class SyncTiming:
    """One `sync_directory` of one folder."""

    case: str
    files: int
    pages: int  # PDF pages; 0 for text files
    passages: int
    total_s: float
    embedding_s: float
    real_embeddings: bool

    @property
    def rest_s(self) -> float:
        return self.total_s - self.embedding_s


def passages_of(name: str, content: bytes) -> int:
    return len(chunk_blocks(parse_file(name, content).blocks))


def articles(path: Path) -> tuple[list[Article], list[str]]:
    """A SQuAD-format set's articles (each paragraph's passage count) and its questions."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    found: list[Article] = []
    questions: list[str] = []
    for article in data:
        slug = re.sub(r"[^\w]+", "_", article["title"]).strip("_")[:40] or "article"
        paragraphs = []
        for p in article["paragraphs"]:
            count = passages_of("p.txt", p["context"].encode("utf-8"))
            paragraphs.append(Paragraph(p["context"], count))
            questions.extend(qa["question"] for qa in p["qas"])
        found.append(Article(slug, paragraphs))
    return found, questions


def write_pdfs(folder: Path, chosen: Sequence[Article]) -> int:
    """Each article as a Japanese PDF, one paragraph per page; returns the pages written."""
    folder.mkdir(parents=True)
    for n, article in enumerate(chosen):
        pdf = japanese_pdf([p.text for p in article.paragraphs])
        (folder / f"{n:02d}-{article.slug}.pdf").write_bytes(pdf)
    return sum(len(a.paragraphs) for a in chosen)


def write_texts(folder: Path, sets: Sequence[tuple[str, list[Article]]], target: int) -> int:
    """Paragraphs as text files, the sets copied as distinct documents until `target` passages
    (stops at a paragraph's end; at least one file); returns the passages written."""
    folder.mkdir(parents=True)
    written = 0
    copy = 0
    while True:
        for label, chosen in sets:
            for n, paragraph in enumerate(p for a in chosen for p in a.paragraphs):
                if written and written >= target:
                    return written
                name = f"c{copy}-{label}-{n:04d}.txt"
                (folder / name).write_text(paragraph.text, encoding="utf-8")
                written += paragraph.passages
        copy += 1


def first_articles(chosen: Sequence[Article], passages: int) -> list[Article]:
    """Articles in order, skipping any that would take the total past `passages`, until it
    reaches `passages` (the first article is taken whatever its size)."""
    taken: list[Article] = []
    total = 0
    for article in chosen:
        if taken and total + article.passages > passages:
            continue
        taken.append(article)
        total += article.passages
        if total >= passages:
            break
    return taken


def timed_sync(
    factory: sessionmaker[Session],
    department: int,
    folder: Path,
    case: str,
    pages: int,
    *,
    real_embeddings: bool,
) -> SyncTiming:
    embedder = TimedEmbedder(random_passages=not real_embeddings)
    index = KnowledgeIndex(embedder=embedder)
    started = time.perf_counter()
    report = sync_directory(
        factory, actor="bench", department_id=department, directory=folder, prune=False, index=index
    )
    total = time.perf_counter() - started
    assert not report.skipped and not report.updated and not report.unchanged, report
    return SyncTiming(
        case=case,
        files=len(report.created),
        pages=pages,
        passages=embedder.passage_count,
        total_s=total,
        embedding_s=embedder.passage_seconds,
        real_embeddings=real_embeddings,
    )


def spread(items: Sequence[str], count: int) -> list[str]:
    """`count` items taken evenly across the list."""
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Latencies:
    """Milliseconds per search, by mode and by language."""

    first_ms: float  # the first search: loads the department's vector matrix
    by_mode: dict[str, dict[str, list[float]]]
    query_embedding_ms: list[float]  # the hybrid searches' query embedding


def latencies(
    factory: sessionmaker[Session], department: int, questions: dict[str, list[str]]
) -> Latencies:
    """Each question searched alone in the hybrid mode (what the CLI and the API do), then in
    each single ranking, to show what the hybrid is made of."""
    embedder = TimedEmbedder(random_passages=True)
    index = KnowledgeIndex(embedder=embedder)

    def one(question: str, mode: SearchMode) -> float:
        started = time.perf_counter()
        with transaction(factory, lock_early=False) as session:
            hits = search(
                session, department_id=department, query=question, top_k=5, mode=mode, index=index
            )
        assert hits, f"no passage for {question!r}"
        return (time.perf_counter() - started) * 1000

    embedder.inner.queries(["ウォームアップ"])  # load the model outside the timings
    first = one("梅雨がないのはどこか。", SearchMode.HYBRID)
    by_mode: dict[str, dict[str, list[float]]] = {}
    embedding: list[float] = []
    for mode in (SearchMode.HYBRID, SearchMode.LEXICAL, SearchMode.VECTOR):
        embedder.query_ms.clear()
        by_mode[mode.value] = {
            language: [one(q, mode) for q in texts] for language, texts in questions.items()
        }
        if mode is SearchMode.HYBRID:
            embedding = list(embedder.query_ms)
    return Latencies(first, by_mode, embedding)


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"{head} + working tree"


def run(args: argparse.Namespace, url: str, work: Path) -> dict[str, object]:
    japanese, ja_questions = articles(args.datasets / JSQUAD)
    english, en_questions = articles(args.datasets / XQUAD)
    sample_pdfs = first_articles(japanese, args.sample // 2)
    sample_pages = write_pdfs(work / "sample-pdf", sample_pdfs)
    sample_pdf_passages = sum(a.passages for a in sample_pdfs)
    write_texts(work / "sample-text", [("xquad", english)], args.sample - sample_pdf_passages)
    full_pages = write_pdfs(work / "full-pdf", japanese)
    full_pdf_passages = sum(a.passages for a in japanese)
    write_texts(
        work / "full-text",
        [("xquad", english), ("jsquad", japanese)],
        args.passages - full_pdf_passages,
    )
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        sample = create_department(session, actor="bench", name="Sample").id
        full = create_department(session, actor="bench", name="Full").id
    shared_embedder().queries(["ウォームアップ"])  # the model's load is not indexing
    syncs = [
        timed_sync(
            factory,
            sample,
            work / "sample-pdf",
            "sample: JSQuAD articles as Japanese PDFs",
            sample_pages,
            real_embeddings=True,
        ),
        timed_sync(
            factory,
            sample,
            work / "sample-text",
            "sample: XQuAD paragraphs as text files (English)",
            0,
            real_embeddings=True,
        ),
        timed_sync(
            factory,
            full,
            work / "full-pdf",
            "full: JSQuAD articles as Japanese PDFs",
            full_pages,
            real_embeddings=False,
        ),
        timed_sync(
            factory,
            full,
            work / "full-text",
            "full: XQuAD + JSQuAD paragraphs as text files, copied",
            0,
            real_embeddings=False,
        ),
    ]
    with factory() as session:
        stored = session.scalar(
            select(func.count(KnowledgePassage.id)).where(KnowledgePassage.department_id == full)
        )
    per_set = args.questions // 2
    questions = {
        "ja": spread(ja_questions, per_set),
        "en": spread(en_questions, args.questions - per_set),
    }
    timed = latencies(factory, full, questions)
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "commit": commit(),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "syncs": [{**asdict(s), "rest_s": s.rest_s} for s in syncs],
        "full_passages": stored,
        "first_search_ms": timed.first_ms,
        "search_ms": timed.by_mode,
        "query_embedding_ms": timed.query_embedding_ms,
    }


def sync_table(report: dict[str, object]) -> str:
    syncs = report["syncs"]
    assert isinstance(syncs, list)
    lines = [
        "| case | files | pages | passages | embedding s (passages/s) | rest s "
        "| rest: files/s | passages/s | pages/s | total s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in syncs:
        embedding = (
            f"{s['embedding_s']:.1f} ({s['passages'] / s['embedding_s']:.2f})"
            if s["real_embeddings"]
            else "random vectors"
        )
        pages = f"{s['pages'] / s['rest_s']:.0f}" if s["pages"] else "–"
        lines.append(
            f"| {s['case']} | {s['files']:,} | {s['pages'] or '–'} | {s['passages']:,} "
            f"| {embedding} | {s['rest_s']:.1f} | {s['files'] / s['rest_s']:.0f} "
            f"| {s['passages'] / s['rest_s']:.0f} | {pages} | {s['total_s']:.1f} |"
        )
    return "\n".join(lines)


def latency_table(report: dict[str, object]) -> str:
    by_mode = report["search_ms"]
    assert isinstance(by_mode, dict)
    lines = ["| ranking | questions | n | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|"]
    for mode, by_language in by_mode.items():
        rows = [("Japanese (JSQuAD)", by_language["ja"]), ("English (XQuAD)", by_language["en"])]
        rows.append(("all", by_language["ja"] + by_language["en"]))
        for label, values in rows:
            lines.append(
                f"| {mode} | {label} | {len(values)} | {statistics.median(values):.1f} "
                f"| {percentile(values, 0.95):.1f} | {max(values):.1f} |"
            )
    return "\n".join(lines)


@contextmanager
def database(postgres: str | None, work: Path) -> Iterator[str]:
    if postgres:
        with postgres_schema(postgres, "knowledge_index_bench") as url:
            yield url
    else:
        yield f"sqlite:///{work}/knowledge.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=10_000, help="the full base's size")
    parser.add_argument("--sample", type=int, default=500, help="passages embedded for real")
    parser.add_argument("--questions", type=int, default=240, help="searches timed")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a throwaway schema is used)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="knowledge-index-") as tmp:
        work = Path(tmp)
        with database(args.postgres, work) as url:
            report = run(args, url, work)
    out = ROOT / "bench" / "results" / f"knowledge-index-{report['database']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    embedding = report["query_embedding_ms"]
    assert isinstance(embedding, list)
    print(f"{report['database']}; commit {report['commit']}; {report['machine']}; "
          f"load average at the end {report['load_average']}")  # fmt: skip
    print(sync_table(report))
    print(
        f"\nfull base: {report['full_passages']:,} passages; first search (loads the vector "
        f"matrix) {report['first_search_ms']:.0f} ms; query embedding in the hybrid searches: "
        f"p50 {statistics.median(embedding):.1f} ms, p95 {percentile(embedding, 0.95):.1f} ms\n"
    )
    print(latency_table(report))


if __name__ == "__main__":
    main()
