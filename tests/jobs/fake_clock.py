"""A clock for the job tests: time moves only when a test says so, and never by sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
LOOK_AGAIN = 0.005  # seconds; Event.set() notifies no condition, so waiters look again this often
PATIENCE = 10.0  # seconds a test waits for a woken thread before it gives up


class FakeClock:
    """A `deshi.jobs.clock.Clock` that moves only on `advance`.

    `advance` wakes the threads whose time has come and returns once each of them has done its
    work and waits again (or has ended), so a test sees the effects of, say, a lease renewal
    as soon as it moves time past it.
    """

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._changed = threading.Condition()
        self._deadlines: dict[threading.Thread, datetime] = {}

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        me = threading.current_thread()
        with self._changed:
            deadline = self._now + timedelta(seconds=seconds)
            self._deadlines[me] = deadline
            self._changed.notify_all()
            try:
                while not stop.is_set() and self._now < deadline:
                    self._changed.wait(LOOK_AGAIN)
            finally:
                del self._deadlines[me]
        return stop.is_set()

    def until_waiting(self, threads: int) -> None:
        """Return once at least this many threads wait on the clock."""
        self._until(lambda: len(self._deadlines) >= threads)

    def advance(self, delta: timedelta) -> None:
        """Move time on; return once every thread it woke waits again or has ended."""
        with self._changed:
            self._now += delta
            woken = [t for t, deadline in self._deadlines.items() if deadline <= self._now]
            self._changed.notify_all()
        self._until(lambda: all(self._back(t) for t in woken))

    def _back(self, thread: threading.Thread) -> bool:
        deadline = self._deadlines.get(thread)
        return not thread.is_alive() or (deadline is not None and deadline > self._now)

    def _until(self, done: Callable[[], bool]) -> None:
        give_up = time.monotonic() + PATIENCE
        with self._changed:
            while not done():
                assert time.monotonic() < give_up, "a thread waiting on the clock never came back"
                self._changed.wait(LOOK_AGAIN)
