"""How much freed memory the C allocator keeps (glibc, or jemalloc when preloaded).

glibc serves a block from the operating system (mmap) only above a threshold, and after such a
block is freed it raises the threshold to the block's size, up to 32 MiB. From then on, blocks up
to that size come from its heaps, which it keeps and which fragment. A retrain allocates hundreds of
such arrays of every size, so a process that decides and retrains keeps growing: a hybrid replay
held 636 MiB before its first retrain and 906 MiB after the one at 2,544 reviewed items, where
the same replay with every block from 1 MiB mapped held 642 MiB. Deciding, on the other hand,
allocates the same few arrays of up to 27 MB again and again; mapping each of them afresh cost
35–40% of the decisions per second (docs/benchmarks-history.md, commit 045c7dd).

jemalloc, preloaded (`LD_PRELOAD`), replaces glibc's malloc for the whole process and hands
freed pages back by itself within seconds; glibc's settings then do nothing, and a release
purges jemalloc's arenas instead. Over an hour of steady load a server kept less of its
requests' and adoptions' peaks with it (docs/service.md, "Memory").
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Literal

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
TRAINING_THRESHOLD = 1 << 20  # while training: blocks from 1 MiB mapped, heap tops over it trimmed
DECIDING_MMAP_THRESHOLD = 32 << 20  # otherwise: glibc's own ceiling for its sliding threshold
DECIDING_TRIM_THRESHOLD = 64 << 20  # and the trim threshold glibc pairs with it
MALLCTL_ARENAS_ALL = 4096  # jemalloc 5: the arena index that names every arena

Allocator = Literal["jemalloc", "glibc", "unknown"]

_lock = threading.Lock()
_depth = 0  # blocks open, in any thread


@contextlib.contextmanager
def large_blocks_returned() -> Iterator[None]:
    """Within the block, arrays of 1 MiB or more are mapped from and returned to the system.

    Afterwards the thresholds are fixed where glibc's sliding ones settle in a long-running
    process, so deciding reuses its arrays' memory as before. Blocks may nest (a retrain embeds
    texts); mallopt is process-wide, so another thread deciding meanwhile only runs slower.
    """
    global _depth
    mallopt = _function("mallopt")
    with _lock:
        _depth += 1
        if _depth == 1 and mallopt is not None:
            mallopt(M_MMAP_THRESHOLD, TRAINING_THRESHOLD)
            mallopt(M_TRIM_THRESHOLD, TRAINING_THRESHOLD)
            release_free_heap()  # or the heap's free top, up to 64 MiB, serves the block first
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and mallopt is not None:
                mallopt(M_MMAP_THRESHOLD, DECIDING_MMAP_THRESHOLD)
                mallopt(M_TRIM_THRESHOLD, DECIDING_TRIM_THRESHOLD)


def release_free_heap() -> None:
    """Give freed heap memory back to the operating system, where the C library can (glibc).

    Encoding thousands of texts leaves PyTorch's freed activations in glibc's per-thread heaps,
    which it keeps: about 130 MiB after embedding BANKING77, which would otherwise add to every
    later retrain's peak.
    """
    trim = _function("malloc_trim")
    if trim is not None:
        trim(0)
    _purge_jemalloc()


def allocator() -> Allocator:
    """The C allocator behind this process's malloc: jemalloc when it was preloaded (its
    `mallctl` is then among the process's symbols), else glibc's where that is the C library."""
    if _mallctl() is not None:
        return "jemalloc"
    if _function("malloc_trim") is not None:
        return "glibc"
    return "unknown"


def _purge_jemalloc() -> bool:
    """Return every jemalloc arena's unused dirty pages to the system now (it would in about
    ten seconds by itself); False when jemalloc is not this process's allocator."""
    mallctl = _mallctl()
    if mallctl is None:
        return False
    return int(mallctl(f"arena.{MALLCTL_ARENAS_ALL}.purge".encode(), None, None, None, 0)) == 0


@functools.cache
def _mallctl() -> ctypes._NamedFuncPointer | None:
    """jemalloc's control function, its argument types set once; None without jemalloc."""
    mallctl = _function("mallctl")
    if mallctl is not None:
        mallctl.argtypes = [
            ctypes.c_char_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
        ]
        mallctl.restype = ctypes.c_int
    return mallctl


def release_free_heap_every(
    seconds: float, stop: threading.Event, release: Callable[[], None] = release_free_heap
) -> None:
    """Call `release` every `seconds` until `stop` is set (a long-running server's thread).

    A server's requests allocate and free lists that grow with the data (a KPI view reads a
    record per item), between allocations that stay (the agent's new observations); glibc keeps
    the freed pages in its heaps, so resident memory rose with every view. Handing them back
    every minute lets it fall back after each view's peak (docs/benchmarks.md, "Soak"); it does
    not give back what Python's own allocator keeps.
    """
    while not stop.wait(seconds):
        release()


def _function(name: str) -> ctypes._NamedFuncPointer | None:
    return getattr(_libc(), name, None)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:  # the symbols already loaded into this process, the C library's among them
        return ctypes.CDLL(None)
    except (OSError, TypeError):  # platforms that cannot open the process itself
        return None
