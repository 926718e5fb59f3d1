"""The allocator setting around retrains: large arrays freed while training leave the process."""

from __future__ import annotations

import ctypes.util
import multiprocessing
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import numpy as np
import pytest

from deshi.engine import heap

T = TypeVar("T")
BLOCK = 16 << 20  # bytes: between glibc's 1 MiB training threshold and its 32 MiB ceiling

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's, and resident memory is read from /proc",
)


def _resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _returned_on_free() -> int:
    """Bytes that leave the process when a filled BLOCK-sized array is freed."""
    block = np.ones(BLOCK, dtype=np.uint8)
    held = _resident()
    del block
    return held - _resident()


def _freed_while_training() -> int:
    np.ones(BLOCK + (8 << 20), dtype=np.uint8)  # freed at once: glibc's threshold slides past BLOCK
    with heap.large_blocks_returned():
        return _returned_on_free()


def _freed_after_training() -> int:
    with heap.large_blocks_returned():
        pass
    heap.release_free_heap()  # so the heap's free top is small, under the trim threshold
    return _returned_on_free()


def _freed_after_an_inner_block() -> int:
    np.ones(BLOCK + (8 << 20), dtype=np.uint8)
    with heap.large_blocks_returned():
        with heap.large_blocks_returned():  # a retrain that embeds a large batch
            pass
        return _returned_on_free()


def _in_a_fresh_process(scenario: Callable[[], T]) -> T:
    """Run `scenario` in a new interpreter: what the allocator returns depends on the heap's
    history, which the tests run before this one (and their threads) would otherwise decide."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(scenario).result(timeout=120)


def test_a_large_array_freed_while_training_goes_back_to_the_system() -> None:
    assert _in_a_fresh_process(_freed_while_training) > BLOCK * 3 // 4


def test_after_training_a_large_array_stays_for_reuse() -> None:
    assert _in_a_fresh_process(_freed_after_training) < BLOCK // 4  # kept: deciding reuses it


def test_an_inner_block_leaves_the_outer_one_in_force() -> None:
    assert _in_a_fresh_process(_freed_after_an_inner_block) > BLOCK * 3 // 4


def _middle_of_the_heap_returned() -> int:
    """Bytes that leave the process when freed blocks in the middle of the heap are released:
    every other 1 MiB block of 64 is freed, so no free block is at the heap's top."""
    np.ones(BLOCK + (8 << 20), dtype=np.uint8)  # glibc's threshold slides: 1 MiB from the heap
    blocks = [np.ones(1 << 20, dtype=np.uint8) for _ in range(64)]
    del blocks[::2]
    held = _resident()
    heap.release_free_heap()
    return held - _resident()


def test_releasing_the_heap_returns_freed_blocks_between_live_ones() -> None:
    assert _in_a_fresh_process(_middle_of_the_heap_returned) > (32 << 20) * 3 // 4


def test_the_periodic_release_runs_until_stopped() -> None:
    stop, calls = threading.Event(), []

    def release() -> None:
        calls.append(time.monotonic())
        if len(calls) == 3:
            stop.set()

    thread = threading.Thread(target=heap.release_free_heap_every, args=(0.01, stop, release))
    thread.start()
    thread.join(timeout=30)

    assert not thread.is_alive() and len(calls) == 3


JEMALLOC = ctypes.util.find_library("jemalloc")


def test_the_allocator_is_glibc_unless_another_is_preloaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    assert _in_a_fresh_process(heap.allocator) == "glibc"
    assert _in_a_fresh_process(heap._purge_jemalloc) is False


@pytest.mark.skipif(
    JEMALLOC is None and not os.environ.get("CI"),
    reason="jemalloc is not installed (make browser installs libjemalloc2)",
)
def test_a_preloaded_jemalloc_is_recognised_and_its_freed_pages_released(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert JEMALLOC is not None, "make test installs libjemalloc2"
    monkeypatch.setenv("LD_PRELOAD", JEMALLOC)  # a spawned process starts with it
    # jemalloc's own return of freed pages turned off, so only the release can return them
    monkeypatch.setenv("MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1")
    assert _in_a_fresh_process(heap.allocator) == "jemalloc"
    assert _in_a_fresh_process(_middle_of_the_heap_returned) > (32 << 20) * 3 // 4
