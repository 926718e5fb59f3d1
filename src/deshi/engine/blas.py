"""How many threads the numeric libraries (OpenBLAS, OpenMP) may use for one call.

numpy's OpenBLAS starts one thread per core for every large product, QR or SVD. In a process
that already works in parallel (the API's request threads, a retrain's decider threads, the
background worker), each such call adds threads the cores do not have, and OpenBLAS threads wait
for each other by spinning. Measured on a busy 2-core machine (2026-12-05): the randomized SVD of a
10,000 × 900 matrix, which every search index of that size computes, took 11.4–14.4 s with two
BLAS threads and 2.3–2.7 s with one, and restoring an agent from 10,000 items 36.8–43.8 s against
9.8–10.8 s. The long-running commands (`deshi serve`, `deshi worker`, `deshi demo`) therefore
give BLAS one thread by default (`DESHI_BLAS_THREADS`); parallelism comes from the requests and
the retrain's own threads.
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["blas_threads", "limit_blas_threads"]


def limit_blas_threads(threads: int) -> None:
    """Let every BLAS and OpenMP library the engine uses run `threads` threads per call, for the
    rest of the process. The libraries are loaded first: threadpoolctl only reaches loaded ones."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    _load_numeric_libraries()
    threadpool_limits(limits=threads)


def blas_threads() -> dict[str, int]:
    """Each loaded BLAS/OpenMP library's file name and its current thread count."""
    info: list[dict[str, Any]] = threadpool_info()
    return {str(lib["filepath"]).rsplit("/", 1)[-1]: int(lib["num_threads"]) for lib in info}


def _load_numeric_libraries() -> None:
    import numpy  # noqa: F401  # each import loads the BLAS it is linked with
    import scipy.linalg  # noqa: F401
    import sklearn.utils.extmath  # noqa: F401
