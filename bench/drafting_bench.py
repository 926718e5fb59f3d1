"""Grounded drafting on real question–paragraph sets (issue #25, points 3 and 7): how often a
draft holds the gold answer, cites the paragraph that holds it, and is supported sentence by
sentence, and how long a draft takes, for the extractive drafter, the local model in process
(`LocalDrafter`, JSON-schema output) and the same model behind llama-cpp-python's
OpenAI-compatible server through the `ChatDrafter` (personal data redacted): held to the same
schema (`server`, `DESHI_LLM_STRUCTURED_OUTPUT=true`) and in free text (`server-text`).

Each paragraph of XQuAD (English, 240) or JSQuAD (Japanese, 1,145) is one document of a
department's knowledge base, stored through the product's path (`store_documents`, a SQLite
file); a seeded sample of answerable questions is drafted from the top `--top-k` passages of
the full-text ranking (BM25 over Sudachi words; the embeddings are skipped to keep the setup
short: docs/benchmarks.md gives the hybrid ranking's recall). Every drafter gets the same
evidence for a question.

    nice -n 10 .venv/bin/python bench/drafting_bench.py [--questions 30] [--threads 1] \
        [--server-questions 15] [--drafters extractive,local,server,server-text]

Needs the `deshi[llm]` extra. Reported per set and drafter: the share of drafts that contain
the gold answer (NFKC, case and spaces ignored), the share that cite the gold paragraph (and,
as its ceiling, the share of questions whose paragraph was among the evidence), the mean
faithfulness and the share with an unsupported claim (`deshi.drafting.faithfulness`), median
and mean seconds per draft, and the peak RSS of the server process and of this one. Also the
checker's agreement with the gold answers: per draft, whether it holds the gold answer and
whether the check flagged any of its sentences, as a 2 x 2 table with the precision and recall of
"flagged" as a detector of "misses the gold answer" (the per-draft records go to the JSON too).
Writes bench/results/drafting.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from numpy.typing import NDArray
from retrieval_bench import FILES, commit, machine

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.drafting.core import Drafter, Evidence, cited_numbers, strip_citations
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.faithfulness import check
from deshi.drafting.local import LocalDrafter
from deshi.drafting.local_model import QWEN_CODER_05B, default_model_directory, prepare_model
from deshi.drafting.remote import ChatDrafter, DraftingError
from deshi.knowledge import KnowledgeIndex, search
from deshi.knowledge.models import SearchMode
from deshi.knowledge.service import SourceFile, store_documents
from deshi.processes.service import create_department

ROOT = Path(__file__).resolve().parent.parent
STORE_BATCH = 128


@dataclass(frozen=True)
class Question:
    text: str
    document: str
    answers: tuple[str, ...]


@dataclass
class Agreement:
    """The checker against the gold answer: "flagged" as a detector of "misses the answer"."""

    flagged_missing: int = 0  # true positives
    flagged_holding: int = 0  # false positives
    passed_missing: int = 0  # false negatives
    passed_holding: int = 0  # true negatives

    def add(self, *, flagged: bool, holds_answer: bool) -> None:
        if flagged and not holds_answer:
            self.flagged_missing += 1
        elif flagged:
            self.flagged_holding += 1
        elif not holds_answer:
            self.passed_missing += 1
        else:
            self.passed_holding += 1

    def summary(self) -> dict[str, int | float | None]:
        flagged = self.flagged_missing + self.flagged_holding
        missing = self.flagged_missing + self.passed_missing
        holding = self.flagged_holding + self.passed_holding
        return {
            "flagged_missing": self.flagged_missing,
            "flagged_holding": self.flagged_holding,
            "passed_missing": self.passed_missing,
            "passed_holding": self.passed_holding,
            # None where the ratio has no drafts to count: a checker that flags nothing has no
            # precision, a set where every draft holds the answer has no recall.
            "precision": self.flagged_missing / flagged if flagged else None,
            "recall": self.flagged_missing / missing if missing else None,
            "flag_rate_missing": self.flagged_missing / missing if missing else None,
            "flag_rate_holding": self.flagged_holding / holding if holding else None,
        }


@dataclass
class Tally:
    """One drafter's results on one set."""

    drafts: int = 0
    retrieved: int = 0
    has_answer: int = 0
    cites_gold: int = 0
    unsupported: int = 0
    failed: int = 0
    faithfulness: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)
    agreement: Agreement = field(default_factory=Agreement)
    records: list[dict[str, str | bool]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        n = self.drafts or 1
        return {
            "drafts": self.drafts,
            "retrieved_gold": self.retrieved / n,
            "has_gold_answer": self.has_answer / n,
            "cites_gold_paragraph": self.cites_gold / n,
            "faithfulness": statistics.fmean(self.faithfulness) if self.faithfulness else 0.0,
            "with_unsupported_claim": self.unsupported / n,
            "failed_fell_back": self.failed,
            "median_seconds": statistics.median(self.seconds) if self.seconds else 0.0,
            "mean_seconds": statistics.fmean(self.seconds) if self.seconds else 0.0,
            "examples": self.examples[:3],
            "checker_vs_gold": self.agreement.summary(),
            "per_draft": self.records,
        }


class NoVectors:
    """Stands in for the embedder: the full-text ranking needs no vectors."""

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.zeros((len(texts), 8), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.zeros((len(texts), 8), dtype=np.float32)


def load(path: Path) -> tuple[list[SourceFile], list[Question]]:
    """One document per paragraph; the answerable questions with their gold answers."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    files, questions = [], []
    for article in data:
        slug = re.sub(r"[^\w]+", "_", article["title"]).strip("_")[:60] or "article"
        for paragraph in article["paragraphs"]:
            name = f"{len(files):04d}-{slug}.txt"
            files.append(SourceFile(name, paragraph["context"].encode("utf-8")))
            for qa in paragraph["qas"]:
                if not qa.get("is_impossible", False):
                    answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    questions.append(Question(qa["question"], name, answers))
    return files, questions


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def score(tally: Tally, drafter: Drafter, question: Question, evidence: list[Evidence]) -> None:
    started = time.perf_counter()
    failed = False
    try:
        draft = drafter.draft(question.text, evidence)
        text = draft.text
    except DraftingError as exc:  # counted as drafted by the fallback, as the service does
        failed = True
        tally.failed += 1
        print(f"  {type(drafter).__name__} failed: {exc}", file=sys.stderr)
        text = ExtractiveDrafter().draft(question.text, evidence).text
    tally.seconds.append(time.perf_counter() - started)
    report = check(text, evidence)
    cited = set(cited_numbers(text))
    tally.drafts += 1
    tally.retrieved += any(e.document == question.document for e in evidence)
    holds_answer = any(_plain(a) in _plain(strip_citations(text)) for a in question.answers)
    tally.has_answer += holds_answer
    tally.cites_gold += any(e.number in cited and e.document == question.document for e in evidence)
    tally.unsupported += report.has_unsupported_claim
    tally.agreement.add(flagged=report.has_unsupported_claim, holds_answer=holds_answer)
    tally.records.append(
        {
            "question": question.text,
            "holds_gold_answer": holds_answer,
            "flagged": report.has_unsupported_claim,
            "fell_back": failed,
        }
    )
    tally.faithfulness.append(report.faithfulness)
    tally.examples.append({"question": question.text, "draft": text, "gold": question.answers[0]})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(model: Path, threads: int) -> Iterator[tuple[str, int]]:
    """llama-cpp-python's OpenAI-compatible server on a free port: (base URL, pid)."""
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--n_ctx", "4096", "--seed", "0",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/models", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"the llama.cpp server did not start: {log.read()[-2000:]!r}")
                time.sleep(0.5)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def peak_rss_mib(pid: int | str = "self") -> float:
    """VmHWM of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def evidence_for(
    dataset: str, datasets: Path, sample: int, seed: int, top_k: int, tmp: Path
) -> list[tuple[Question, list[Evidence]]]:
    """The sampled questions with the evidence the full-text ranking finds for each."""
    files, questions = load(datasets / FILES[dataset])
    chosen = random.Random(seed).sample(questions, sample)
    engine = create_db_engine(f"sqlite:///{tmp}/{dataset}.db")
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    index = KnowledgeIndex(embedder=NoVectors())
    with transaction(factory) as session:
        department = create_department(session, actor="bench", name=dataset).id
    for start in range(0, len(files), STORE_BATCH):
        with transaction(factory) as session:
            store_documents(
                session,
                actor="bench",
                department_id=department,
                files=files[start : start + STORE_BATCH],
                index=index,
            )
    cases = []
    with transaction(factory) as session:
        for question in chosen:
            hits = search(
                session,
                department_id=department,
                query=question.text,
                top_k=top_k,
                mode=SearchMode.LEXICAL,
                index=index,
            )
            evidence = [
                Evidence(n, h.passage_id, h.document, h.passage, h.url)
                for n, h in enumerate(hits, start=1)
            ]
            cases.append((question, evidence))
    engine.dispose()
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--sets", default="xquad_en,jsquad")
    parser.add_argument("--questions", type=int, default=30, help="Sampled per set.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=2, help="Passages given to the drafter.")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads.")
    parser.add_argument(
        "--drafters",
        default="extractive,local,server,server-text",
        help="server: ChatDrafter via llama.cpp's server, structured; server-text: free text.",
    )
    parser.add_argument(
        "--server-questions", type=int, default=None, help="Only the first N through the server."
    )
    parser.add_argument("--model-dir", type=Path, default=default_model_directory())
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "drafting.json", help="JSON."
    )
    args = parser.parse_args()
    wanted = args.drafters.split(",")

    uses_model = "local" in wanted or "server" in wanted
    model_path = prepare_model(QWEN_CODER_05B, args.model_dir).path if uses_model else Path()
    local = LocalDrafter(model_path=model_path, fallback=ExtractiveDrafter(), threads=args.threads)
    report: dict[str, object] = {
        "commit": commit(),
        "machine": machine(),
        "model": QWEN_CODER_05B.title,
        "questions_per_set": args.questions,
        "seed": args.seed,
        "top_k": args.top_k,
        "threads": args.threads,
        "sets": {},
    }
    with tempfile.TemporaryDirectory(prefix="drafting-bench-") as tmp:
        cases = {
            name: evidence_for(
                name, args.datasets, args.questions, args.seed, args.top_k, Path(tmp)
            )
            for name in args.sets.split(",")
        }
    sets: dict[str, dict[str, object]] = {name: {} for name in cases}
    drafters: dict[str, Drafter] = {"extractive": ExtractiveDrafter(), "local": local}
    for name in ("extractive", "local"):
        if name in wanted:
            for dataset, dataset_cases in cases.items():
                tally = Tally()
                for question, evidence in dataset_cases:
                    score(tally, drafters[name], question, evidence)
                sets[dataset][name] = tally.summary()
                print(f"{dataset} {name}: {json.dumps(tally.summary(), ensure_ascii=False)[:300]}")
    report["bench_process_peak_rss_mib"] = peak_rss_mib()  # with the model, if it drafted
    servers = [name for name in ("server", "server-text") if name in wanted]
    if servers:
        local.unload()  # free the in-process model before the server loads its own
        with llama_server(model_path, args.threads) as (base, pid):
            for name in servers:
                chat = ChatDrafter(
                    base_url=base,
                    model="local",
                    client=httpx.Client(timeout=600, trust_env=False),
                    fallback=ExtractiveDrafter(),
                    structured=name == "server",
                )
                for dataset, dataset_cases in cases.items():
                    tally = Tally()
                    for question, evidence in dataset_cases[: args.server_questions]:
                        score(tally, chat, question, evidence)
                    sets[dataset][name] = tally.summary()
                    print(f"{dataset} {name}: {json.dumps(tally.summary())[:300]}")
            report["server_peak_rss_mib"] = peak_rss_mib(pid)
    report["sets"] = sets
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(report))


def table(report: dict[str, object]) -> str:
    lines = [
        f"commit {report['commit']}; {report['machine']}; {report['questions_per_set']} "
        f"questions per set (seed {report['seed']}), top {report['top_k']} passages, "
        f"{report['threads']} llama.cpp thread(s)",
        "",
        "| set | drafter | gold answer in draft | cites gold paragraph | faithfulness | "
        "with unsupported claim | s/draft median (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    sets = report["sets"]
    assert isinstance(sets, dict)
    for dataset, rows in sets.items():
        for drafter, row in rows.items():
            if not isinstance(row, dict):
                continue
            lines.append(
                f"| {dataset} | {drafter} | {row['has_gold_answer']:.0%} | "
                f"{row['cites_gold_paragraph']:.0%} (of {row['retrieved_gold']:.0%} retrieved) | "
                f"{row['faithfulness']:.2f} | {row['with_unsupported_claim']:.0%} | "
                f"{row['median_seconds']:.1f} ({row['mean_seconds']:.1f}) |"
            )
    return "\n".join([*lines, "", agreement_table(sets)])


def _share(value: object) -> str:
    return "–" if value is None else f"{value:.2f}"


def agreement_table(sets: dict[str, dict[str, object]]) -> str:
    """The checker against the gold answer, one row per set and drafter."""
    lines = [
        "| set | drafter | misses answer: flagged / not | holds answer: flagged / not | "
        "precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for dataset, rows in sets.items():
        for drafter, row in rows.items():
            if not isinstance(row, dict):
                continue
            a = row["checker_vs_gold"]
            lines.append(
                f"| {dataset} | {drafter} | {a['flagged_missing']} / {a['passed_missing']} | "
                f"{a['flagged_holding']} / {a['passed_holding']} | {_share(a['precision'])} | "
                f"{_share(a['recall'])} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
