"""The demo's clock and its simulated people: ISO weeks, arrival times, review delays, and how
long a reviewer takes on an item (pure; every draw comes from the caller's `random.Random`).

Handling time is lognormal (a long right tail, never negative), clipped to [5 s, 30 min]:

    situation                                   median    sigma of log
    blind: human-only arm or audit sample        90 s        0.45
    suggestion shown and right (accept)          45 s        0.45
    suggestion shown and wrong (correct)         80 s        0.45

A reviewer answers an item some minutes after it arrived (exponential, mean 20 minutes), never
later than the moment the demo started, so every timestamp lies in the past.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "HANDLING_SIGMA",
    "MEDIAN_SECONDS",
    "DemoWeek",
    "arrival_times",
    "demo_weeks",
    "handling_seconds",
    "review_time",
]

MEDIAN_SECONDS = {"blind": 90.0, "accept": 45.0, "correct": 80.0}
HANDLING_SIGMA = 0.45
MIN_SECONDS, MAX_SECONDS = 5.0, 1800.0
MEAN_REVIEW_DELAY_MINUTES = 20.0


@dataclass(frozen=True, slots=True)
class DemoWeek:
    """One simulated ISO week: its key ('2026-W47') and the instants items may arrive in."""

    key: str
    start: datetime
    end: datetime  # exclusive; the demo's start time for the current week


def demo_weeks(count: int, now: datetime) -> list[DemoWeek]:
    """`count` consecutive ISO weeks ending with the week of `now` (UTC), oldest first."""
    if count < 1:
        raise ValueError("the demo needs at least one week")
    now = now.astimezone(UTC)
    monday = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=now.weekday())
    weeks = []
    for back in range(count - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        end = min(start + timedelta(weeks=1), now)
        year, number, _ = start.isocalendar()
        weeks.append(DemoWeek(f"{year}-W{number:02d}", start, end))
    return weeks


def arrival_times(week: DemoWeek, count: int, rng: random.Random) -> list[datetime]:
    """`count` arrival instants drawn uniformly over the week, in order."""
    span = (week.end - week.start).total_seconds()
    offsets = sorted(rng.uniform(0.0, span) for _ in range(count))
    return [week.start + timedelta(seconds=offset) for offset in offsets]


def review_time(arrived: datetime, latest: datetime, rng: random.Random) -> datetime:
    """When a reviewer answers an item that arrived at `arrived`: a few minutes later, but
    never after `latest` (and never before the item arrived)."""
    delay = timedelta(minutes=rng.expovariate(1.0 / MEAN_REVIEW_DELAY_MINUTES))
    return max(arrived, min(arrived + delay, latest))


def handling_seconds(situation: str, rng: random.Random) -> float:
    """Seconds a reviewer spends: `situation` is 'blind', 'accept' or 'correct'."""
    median = MEDIAN_SECONDS[situation]
    seconds = rng.lognormvariate(math.log(median), HANDLING_SIGMA)
    return round(min(max(seconds, MIN_SECONDS), MAX_SECONDS), 1)
