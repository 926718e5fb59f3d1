"""BLAS threads per call (deshi.engine.blas): the long-running commands set them from
DESHI_BLAS_THREADS. Each check runs in its own interpreter, since the limit is process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PRINT_AFTER = """
import json, sys
from deshi.engine.blas import blas_threads, limit_blas_threads
before = blas_threads()
{call}
print(json.dumps({{"before": before, "after": blas_threads()}}))
"""


def _threads_after(call: str, **env: str) -> dict[str, dict[str, int]]:
    out = subprocess.run(
        [sys.executable, "-c", _PRINT_AFTER.format(call=call)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "", "OMP_NUM_THREADS": "", **env},
    )
    result: dict[str, dict[str, int]] = json.loads(out.stdout)
    return result


def test_the_limit_reaches_every_blas_library_the_engine_loads() -> None:
    threads = _threads_after("limit_blas_threads(1)")

    assert threads["after"], "no BLAS library was found"
    assert set(threads["after"].values()) == {1}
    assert len(threads["after"]) >= len(threads["before"])  # scipy's own BLAS, if any, too


def test_more_threads_may_be_allowed() -> None:
    threads = _threads_after("limit_blas_threads(3)")

    assert set(threads["after"].values()) == {3}


def test_zero_threads_is_refused() -> None:
    from deshi.engine.blas import limit_blas_threads

    with pytest.raises(ValueError, match="at least 1"):
        limit_blas_threads(0)
