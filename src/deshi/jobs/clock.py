"""The time the job queue and its workers go by: when a job is due, when a lease runs out, how
long to wait before polling or renewing again. One seam, so tests move time instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from deshi.db.base import utcnow

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """Reads the time and waits for it to pass."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait until `seconds` have passed or `stop` is set; True when `stop` is set."""
        ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return utcnow()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds`; wake early when `stop` is set."""
        return stop.wait(seconds)


SYSTEM_CLOCK = SystemClock()
