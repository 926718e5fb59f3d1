"""Search alone: microseconds per query of the case memory's top-10 cosine search.

The first 10,000 items of BANKING77 (shuffle seed 0) are indexed, the other 3,083 are the
queries, in batches of 1,000, on one BLAS thread; the median of 7 passes is printed. To compare
two engines, run it once per git worktree with PYTHONPATH=<worktree>/src.

    .venv/bin/python bench/search_bench.py
"""

from __future__ import annotations

import statistics
import time

from threadpoolctl import threadpool_limits

from deshi.engine.featurize import TfidfFeaturizer
from deshi.engine.search import SimilarityIndex
from deshi.sim.dataset import load_bundled

CORPUS = 10_000
BATCH = 1_000
PASSES = 7


def main() -> None:
    texts = [item.text for item in load_bundled("banking77").shuffled(0).items]
    featurizer = TfidfFeaturizer().fit(texts[:CORPUS])
    corpus, queries = featurizer.transform(texts[:CORPUS]), featurizer.transform(texts[CORPUS:])
    n = int(queries.shape[0])
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        index = SimilarityIndex(corpus)
        build_s = time.perf_counter() - started
        per_query = []
        for _ in range(PASSES):
            started = time.perf_counter()
            for start in range(0, n, BATCH):
                index.top_k(queries[start : start + BATCH], 10)
            per_query.append((time.perf_counter() - started) / n * 1e6)
    print(
        f"index build {build_s:.2f} s; search µs/query: median {statistics.median(per_query):.0f} "
        f"({min(per_query):.0f}–{max(per_query):.0f}) over {PASSES} passes of {n} queries"
    )


if __name__ == "__main__":
    main()
