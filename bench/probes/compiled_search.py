"""What a compiled search kernel would buy: batch decisions with the shortlist step in numba.

Not part of deshi (numba is not a dependency; docs/benchmarks-history.md says why). The shortlist
step of `SimilarityIndex` (the sparse tail product, adding it to the projected dense scores and
picking each query's best rows) runs here as one numba loop per query instead of scipy's
sparse × sparse product, a dense copy and numpy's top-k. Everything else is deshi's own code.

The agent learns all 13,083 BANKING77 items (as `engine_bench.py speed` does), then decides
5,000 items in batches of 1,000, alternating the two searches five times on one BLAS thread.

    pip install numba    # into a scratch environment, or: pip install --target DIR numba llvmlite
    .venv/bin/python bench/probes/compiled_search.py   # PYTHONPATH=DIR when installed with --target
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import _bench_path  # noqa: F401  (bench/ on sys.path, for engine_bench)
import numpy as np
from engine_bench import load, record_reviewed
from scipy import sparse
from threadpoolctl import threadpool_limits

from deshi.engine import Agent, AgentConfig, Decision
from deshi.engine import search as deshi_search

BATCH = 1_000
ITEMS = 5_000
ROUNDS = 5


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def compile_shortlist() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    from numba import njit

    @njit(cache=True, nogil=True)  # type: ignore[misc]
    def shortlist(approx, size, q_ptr, q_idx, q_val, t_ptr, t_idx, t_val, m):  # type: ignore[no-untyped-def]
        """Each query's m best corpus rows by projected score + exact tail, and their tails."""
        n = approx.shape[0]
        rows = np.empty((n, m), dtype=np.int64)
        tails = np.empty((n, m), dtype=np.float32)
        tail = np.zeros(size, dtype=np.float32)
        heap_v = np.empty(m, dtype=np.float32)  # min-heap of the best m so far
        heap_i = np.empty(m, dtype=np.int64)
        for i in range(n):
            for p in range(q_ptr[i], q_ptr[i + 1]):
                for r in range(t_ptr[q_idx[p]], t_ptr[q_idx[p] + 1]):
                    tail[t_idx[r]] += q_val[p] * t_val[r]
            heap_v[:] = -np.inf
            heap_i[:] = -1
            for j in range(size):
                s = approx[i, j] + tail[j]
                if s > heap_v[0]:  # replace the root and sift it down
                    pos = 0
                    while 2 * pos + 1 < m:
                        child = 2 * pos + 1
                        if child + 1 < m and heap_v[child + 1] < heap_v[child]:
                            child += 1
                        if heap_v[child] >= s:
                            break
                        heap_v[pos], heap_i[pos] = heap_v[child], heap_i[child]
                        pos = child
                    heap_v[pos], heap_i[pos] = s, j
            for h in range(m):
                rows[i, h] = heap_i[h]
                tails[i, h] = tail[heap_i[h]] if heap_i[h] >= 0 else 0.0
            tail[:] = 0.0
        return rows, tails

    return shortlist  # type: ignore[no-any-return]


def compiled_chunk(shortlist: Callable[..., tuple[np.ndarray, np.ndarray]]) -> Callable[..., Any]:
    scipy_chunk = deshi_search.SimilarityIndex._top_k_chunk

    def chunk(index: Any, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        if index._projection is None or index._sparse_t is None:
            return scipy_chunk(index, queries, k)
        q = sparse.csr_matrix(queries, dtype=np.float32)
        dense_q, rare = q[:, index._common].toarray(), q[:, index._rare]
        approx = (dense_q @ index._projection) @ index._dense_t
        tail_t = index._sparse_t
        m = min(max(deshi_search.SHORTLIST, k), index.size)
        rows, tails = shortlist(
            approx, index.size, rare.indptr, rare.indices, rare.data,
            tail_t.indptr, tail_t.indices, tail_t.data, m,
        )  # fmt: skip
        return deshi_search._sorted_top(rows, index._exact_dense(dense_q, rows) + tails, k)

    return chunk


def decide_all(agent: Agent, texts: list[str]) -> tuple[float, list[Decision]]:
    started = time.perf_counter()
    decisions: list[Decision] = []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        decisions += agent.decide_many(chunk, [f"q{start + j}" for j in range(len(chunk))])
    return len(texts) / (time.perf_counter() - started), decisions


def main() -> None:
    items = load("banking77").shuffled(0).items
    agent = Agent(AgentConfig())
    with threadpool_limits(limits=1):
        record_reviewed(agent, items)
        agent.retrain()
        texts = [item.text for item in items[:ITEMS]]
        before, started = rss_mib(), time.perf_counter()
        searches = {"scipy": deshi_search.SimilarityIndex._top_k_chunk}
        searches["numba"] = compiled_chunk(compile_shortlist())
        deshi_search.SimilarityIndex._top_k_chunk = searches["numba"]  # type: ignore[method-assign]
        decide_all(agent, texts)
        seconds, grown = time.perf_counter() - started, rss_mib() - before
        print(f"numba: import and first pass {seconds:.1f} s (compiling or loading its cache)")
        print(f"numba: RSS +{grown:.0f} MiB after the first pass")
        rates: dict[str, list[float]] = {name: [] for name in searches}
        decided: dict[str, list[Decision]] = {}
        for _ in range(ROUNDS):
            for name, chunk in searches.items():
                deshi_search.SimilarityIndex._top_k_chunk = chunk  # type: ignore[method-assign]
                rate, decided[name] = decide_all(agent, texts)
                rates[name].append(rate)
    for name, values in rates.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"{name}: {statistics.median(values):,.0f} decisions/s (median; runs: {runs})")
    ratio = statistics.median(rates["numba"]) / statistics.median(rates["scipy"])
    pairs = list(zip(decided["scipy"], decided["numba"], strict=True))
    same = np.mean(
        [(a.label, a.route, a.confidence) == (b.label, b.route, b.confidence) for a, b in pairs]
    )
    order = np.mean(
        [[c.case_id for c in a.evidence] == [c.case_id for c in b.evidence] for a, b in pairs]
    )
    print(f"numba / scipy: {ratio:.2f}")
    print(f"same label, route and confidence: {same:.2%}; same evidence order: {order:.2%}")


if __name__ == "__main__":
    main()
