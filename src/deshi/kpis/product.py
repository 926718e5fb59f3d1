"""Product layer: how much work the agent takes, how often people accept it, how long work takes,
what waits in the queue, and how soon the process started paying off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from deshi.engine.metrics import Estimate, mean_t, median_order_statistic, proportion_wilson
from deshi.kpis.records import ARMS, Arm, ItemRecord, ReviewAction, week_end

__all__ = [
    "QueueSnapshot",
    "acceptance_rate",
    "automation_rate",
    "correction_rate",
    "handling_time",
    "handling_time_by_arm",
    "queue_snapshot",
    "time_to_value",
]

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


def automation_rate(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """Share of items auto-completed with no human touch (audited items count as not automated)."""
    automated = sum(1 for item in items if item.route == "auto")
    return proportion_wilson(automated, len(items), confidence=confidence)


def _reviewed_with_suggestion(items: Sequence[ItemRecord]) -> list[ItemRecord]:
    return [item for item in items if item.is_reviewed and item.showed_suggestion]


def _action_rate(
    items: Sequence[ItemRecord], action: ReviewAction, confidence: float
) -> Estimate | None:
    shown = _reviewed_with_suggestion(items)
    hits = sum(1 for item in shown if item.review_action == action)
    return proportion_wilson(hits, len(shown), confidence=confidence)


def acceptance_rate(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """accept / reviewed items on which the suggestion was shown (Wilson interval)."""
    return _action_rate(items, "accept", confidence)


def correction_rate(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """correct / reviewed items on which the suggestion was shown (Wilson interval)."""
    return _action_rate(items, "correct", confidence)


def handling_time(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """Mean human seconds per completed item, auto-completed ones counting 0 (t interval)."""
    seconds = [item.handling_seconds for item in items if item.is_completed]
    return mean_t(seconds, confidence=confidence)


def handling_time_by_arm(
    items: Sequence[ItemRecord], *, confidence: float = 0.95
) -> dict[Arm, Estimate | None]:
    """`handling_time` for each randomized arm."""
    return {
        arm: handling_time([item for item in items if item.arm == arm], confidence=confidence)
        for arm in ARMS
    }


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Items waiting for a human at one instant, and how long they have waited (hours)."""

    at: datetime
    open_items: int
    median_age_hours: Estimate | None
    oldest_age_hours: float | None


def _is_open_at(item: ItemRecord, at: datetime) -> bool:
    waits_for_human = item.route in ("review", "audit")
    started = item.created_at <= at
    not_done = item.completed_at is None or item.completed_at > at
    return waits_for_human and started and not_done


def queue_snapshot(
    items: Sequence[ItemRecord], at: datetime, *, confidence: float = 0.95
) -> QueueSnapshot:
    """Backlog at `at`: review/audit items created by then and not completed by then."""
    ages = [
        (at - item.created_at).total_seconds() / SECONDS_PER_HOUR
        for item in items
        if _is_open_at(item, at)
    ]
    return QueueSnapshot(
        at=at,
        open_items=len(ages),
        median_age_hours=median_order_statistic(ages, confidence=confidence),
        oldest_age_hours=max(ages, default=None),
    )


def time_to_value(
    process_created_at: datetime,
    weekly_savings: Mapping[str, Estimate | None],
    *,
    require_confidence: bool = True,
) -> float | None:
    """Days from process creation to the end of the first ISO week with positive savings.

    With `require_confidence` a week counts only when its savings' lower bound is above 0;
    otherwise a positive point estimate suffices. None while no week qualifies.
    """
    for week in sorted(weekly_savings):
        savings = weekly_savings[week]
        if savings is None:
            continue
        if (savings.low if require_confidence else savings.value) > 0:
            proven_at = week_end(week).replace(tzinfo=process_created_at.tzinfo)
            return max(0.0, (proven_at - process_created_at).total_seconds() / SECONDS_PER_DAY)
    return None
