"""KPI reads recomputed in the background, so that no viewer waits for a slow one.

A KPI read that changed data makes stale is recomputed on the next view (`deshi.kpis.cache`):
seconds at 100,000 items, since the report reads every item of its period and resamples. A
long-running server (`deshi serve`) hands that wait to a child process instead: when the stored
result of a read took at least `inline_seconds` to compute, the view is answered at once from
it, marked with the last moment it was known to match the data (`Served.as_of`), and the child
recomputes it and stores the result; a later view reads the new one. Reads that compute faster
stay exact at every view, and so does everything outside a server (the CLI, scripts), which
passes no refresher.

Why a process and not a thread: the computation is Python arithmetic that holds the GIL, and a
thread doing it made every request of the server wait for the GIL between its database calls
(at 100,000 items a dashboard view after a change took 0.46 s at the median and 0.72 s at p95
that way, 0.12 and 0.13 s with a child: docs/benchmarks.md). A child process runs beside the
server on another core, and gives its memory back when it is replaced (`TASKS_PER_CHILD`): the
KPI computations were most of what a long-running server's memory kept (the soak, same file).

A stale result is a whole earlier result, never a mix: its cards, charts and recommendation
come from one computation on the data as it was then, and the page says when that was. Each
server process queues a read once while it waits or runs; two server processes may recompute
the same read once each, and both store the same result (`kpi_snapshots`).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Literal

from deshi.logs import configure_logging
from deshi.settings import Settings

__all__ = ["TASKS_PER_CHILD", "Deferral", "KpiRead", "KpiRefresher", "child_process_pool"]

logger = logging.getLogger(__name__)

TASKS_PER_CHILD = 50  # then a new child: what a read's peak left in the allocator goes back


@dataclass(frozen=True, slots=True)
class KpiRead:
    """One KPI read to compute again, as data (it crosses to the child process)."""

    kind: Literal["kpis", "warnings", "drafting"]
    process_id: int
    key: str  # the read's key in `kpi_snapshots`
    start: date | None = None
    end: date | None = None
    arm: str | None = None
    now: datetime | None = None


class KpiRefresher:
    """Recomputes stale KPI reads with `recompute`, one at a time, on the executor that
    `executor` makes (in production a child process: `child_process_pool`), and makes a new
    one when it breaks."""

    def __init__(
        self,
        executor: Callable[[], Executor],
        recompute: Callable[[KpiRead], object],
        *,
        inline_seconds: float,
    ) -> None:
        if inline_seconds < 0:
            raise ValueError(f"inline_seconds must be >= 0, got {inline_seconds}")
        self.inline_seconds = inline_seconds
        self._make_executor = executor
        self._executor = executor()
        self._recompute = recompute
        self._pending: dict[tuple[int, str], Future[object]] = {}
        self._failed: set[tuple[int, str]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def defers(self, seconds: float | None) -> bool:
        """True when a read that took `seconds` (None: not measured) is recomputed in the
        background rather than while the viewer waits."""
        return seconds is not None and seconds >= self.inline_seconds

    def submit(self, read: KpiRead) -> bool:
        """Recompute `read` in the background, unless it is already waiting or running. False
        when the caller should compute it itself: the refresher is closed, no child process
        can be started, or the read's last refresh failed (then the next one is tried again
        in the background)."""
        slot = (read.process_id, read.key)
        with self._lock:
            if slot in self._pending:
                return True
            if slot in self._failed:  # its last refresh failed: this viewer waits for it
                self._failed.discard(slot)
                return False
            future = self._queue(read)
            if future is None:
                return False
            self._pending[slot] = future
        future.add_done_callback(lambda done: self._finished(slot, done))
        return True

    def _queue(self, read: KpiRead) -> Future[object] | None:
        if self._closed:
            return None
        try:
            return self._executor.submit(self._recompute, read)
        except BrokenExecutor:  # the child died (killed, out of memory): start another
            logger.warning("KPI refresh process lost; starting a new one")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._make_executor()
        try:
            return self._executor.submit(self._recompute, read)
        except BrokenExecutor:
            return None

    def pending(self) -> int:
        """How many reads wait or run."""
        with self._lock:
            return len(self._pending)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no read is pending (True), or `timeout` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = list(self._pending.values())
            if not waiting:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            if all(future.done() for future in waiting):
                time.sleep(0.001)  # done, its callback about to forget it
            else:
                futures.wait(waiting, timeout=left)

    def close(self) -> None:
        """Stop: queued reads are dropped, a running one finishes in the child."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _finished(self, slot: tuple[int, str], done: Future[object]) -> None:
        failed = None if done.cancelled() else done.exception()
        if failed is not None:  # costs the next viewer the wait it was spared, no more
            logger.error(
                "KPI read %s of process %s not recomputed: %s",
                slot[1],
                slot[0],
                failed,
                exc_info=failed,
            )
        with self._lock:  # last: `wait` returns once the read is no longer pending
            self._pending.pop(slot, None)
            if failed is not None:
                self._failed.add(slot)


def child_process_pool(settings: Settings | None = None) -> ProcessPoolExecutor:
    """One child process, started fresh (spawn: the server has threads, which a fork would
    copy mid-state), replaced after `TASKS_PER_CHILD` reads. With `settings` it logs as the
    server does (`DESHI_LOG_FORMAT`, `DESHI_LOG_LEVEL`): a spawned child starts unconfigured."""
    initializer = None
    if settings is not None:
        initializer = partial(
            configure_logging, log_format=settings.log_format, level=settings.log_level
        )
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        max_tasks_per_child=TASKS_PER_CHILD,
    )


@dataclass(frozen=True, slots=True)
class Deferral:
    """How a KPI read may be recomputed in the background: the refresher, and the read.

    `earlier`: a key prefix naming the same read in an earlier week or day (a key holds the
    period of the clock it depends on). While the read's own key was never computed, the
    newest stored result under that prefix is served, stale, in its place; without one the
    first view of each new week or day was computed while the viewer waited."""

    refresher: KpiRefresher
    read: KpiRead
    earlier: str | None = None
