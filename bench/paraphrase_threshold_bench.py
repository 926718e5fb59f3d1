"""Where to draw the line for paraphrase consistency: how often two messages whose embeddings are
at least tau alike ask the same thing (issue #25, docs/benchmarks.md "Paraphrase threshold").

Paraphrase consistency (`deshi.kpis.drafting_agreement.paraphrase_consistency`) pairs a draft with
an earlier draft of another item whose message embedding has a cosine of at least tau. This embeds
a seeded sample of BANKING77 training texts with the embedder drafts store their message with
(multilingual-e5-small through `deshi.drafting.past_answers.message_vector`'s `queries`) and, for
several tau, reports:

- nearest: each text with its most similar other text; the pairs at or above tau and the share of
  them whose two texts carry the same intent label;
- all pairs: every pair of texts at or above tau (what the KPI can pair: the most recent earlier
  draft above tau, not necessarily the nearest) and the same share.

The same intent label is a proxy for "the same question": two texts of one intent (e.g.
card_arrival) may still ask different things, and two intents can overlap, so the share is a
proxy, not a paraphrase judgement. Exact repeats (equal once normalised) are counted apart.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 10 \
        .venv/bin/python bench/paraphrase_threshold_bench.py [--texts 2000] [--seed 25] \
        [--vectors FILE.npy]

Prints the machine, the embedding time and a markdown table.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _support import banking77_rows, machine
from numpy.typing import NDArray

from deshi.engine.metrics import proportion_wilson
from deshi.engine.multilingual import shared_embedder
from deshi.knowledge.models import MAX_QUERY_CHARS
from deshi.kpis.drafting_agreement import question_key

THRESHOLDS = (0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985)


def _share(same: int, pairs: int) -> str:
    found = proportion_wilson(same, pairs, confidence=0.95)
    if found is None:
        return "–"
    return f"{found.value:.1%} [{found.low:.1%}, {found.high:.1%}]"


def table(
    vectors: NDArray[np.float32], labels: Sequence[str], keys: Sequence[str]
) -> list[tuple[float, int, int, int, int, int, int]]:
    """Per tau: (tau, nearest pairs, same label, exact repeats, all pairs, same label, exact)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    label_ids = np.unique(np.asarray(labels), return_inverse=True)[1]
    key_ids = np.unique(np.asarray(keys), return_inverse=True)[1]
    nearest = similarity.argmax(axis=1)
    nearest_sim = similarity[np.arange(len(vectors)), nearest]
    nearest_same = label_ids == label_ids[nearest]
    nearest_exact = key_ids == key_ids[nearest]
    upper = np.triu_indices(len(vectors), k=1)
    all_sim = similarity[upper]
    all_same = label_ids[upper[0]] == label_ids[upper[1]]
    all_exact = key_ids[upper[0]] == key_ids[upper[1]]
    rows = []
    for tau in THRESHOLDS:
        near, every = nearest_sim >= tau, all_sim >= tau
        rows.append(
            (
                tau,
                int(near.sum()),
                int((near & nearest_same).sum()),
                int((near & nearest_exact).sum()),
                int(every.sum()),
                int((every & all_same).sum()),
                int((every & all_exact).sum()),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument(
        "--vectors", help="Keep the embeddings in this .npy file (reused if there)."
    )
    args = parser.parse_args()
    rows = banking77_rows(args.texts, shuffle_seed=args.seed)
    texts = [text[:MAX_QUERY_CHARS] for text, _ in rows]
    started = time.perf_counter()
    if args.vectors and Path(args.vectors).exists():
        vectors = np.load(args.vectors)
    else:
        vectors = shared_embedder().queries(texts)
        if args.vectors:
            np.save(args.vectors, vectors)
    seconds = time.perf_counter() - started
    print(f"machine: {machine()}; {len(texts):,} BANKING77 texts (seed {args.seed})")
    print(f"embedded (or read) in {seconds:,.1f} s; {len({label for _, label in rows})} intents")
    print(
        "| tau | nearest pairs ≥ tau | same intent | exact repeats "
        "| all pairs ≥ tau | same intent | exact repeats |"
    )
    print("|---|---|---|---|---|---|---|")
    keys = [question_key(text) for text in texts]
    for tau, near, near_same, near_exact, every, every_same, every_exact in table(
        vectors, [label for _, label in rows], keys
    ):
        print(
            f"| {tau:.3f} | {near:,} | {_share(near_same, near)} | {near_exact:,} "
            f"| {every:,} | {_share(every_same, every)} | {every_exact:,} |"
        )


if __name__ == "__main__":
    main()
