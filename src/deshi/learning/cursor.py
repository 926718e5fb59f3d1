"""Following a table whose ids may become visible out of order.

PostgreSQL hands out an id at insert, not at commit: a transaction that inserted review 7 may
commit after the one that inserted review 8. A reader that kept only "the highest id seen"
would skip review 7 for good. An `IdCursor` also remembers the gaps below its high-water mark,
ids it has not seen yet, and asks for them again until they show up or are old enough to be
rolled-back inserts, which leave gaps that never fill. (SQLite has one writer at a time, so its
ids commit in order and no gaps stay open.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["GAP_TTL_SECONDS", "MAX_GAPS", "IdCursor"]

GAP_TTL_SECONDS = 600.0  # far longer than any transaction of ours that inserts a review
# Only the newest ids below the highest seen are watched for late commits. The window must hold
# every id other transactions can commit while one is still in flight: one batch request alone
# writes up to `Settings.max_batch_items` (at most 2,000) decisions; ten full batches fit.
MAX_GAPS = 25_000


@dataclass(slots=True)
class IdCursor:
    """Every id up to `high` has been taken in, except `gaps` (id → when first missed)."""

    high: int = 0
    gaps: dict[int, float] = field(default_factory=dict)

    def wanted(self, now: float) -> tuple[int, list[int]]:
        """What to read next: ids above the first value, and the listed ones (live gaps)."""
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GAP_TTL_SECONDS}
        return self.high, sorted(self.gaps)

    def saw(self, ids: Iterable[int], now: float) -> None:
        """Take in the ids a read of `wanted()` returned (of all writers, not one process's):
        filled gaps close, and ids skipped over on the way up open new ones."""
        seen = set(ids)
        for i in seen:
            self.gaps.pop(i, None)
        top = max(seen, default=self.high)
        if top <= self.high:
            return
        window = range(max(self.high + 1, top - MAX_GAPS + 1), top)  # older ids are given up
        missing = [i for i in window if i not in seen]
        self.gaps.update((i, now) for i in missing)
        if len(self.gaps) > MAX_GAPS:
            self.gaps = dict(sorted(self.gaps.items())[-MAX_GAPS:])
        self.high = top
