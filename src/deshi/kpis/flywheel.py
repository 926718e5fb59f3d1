"""Learning flywheel: how fast feedback arrives, how broad it is, how fast the agent improves,
how long a correction takes to reach a promoted model, and how many people teach it."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime

from deshi.engine.metrics import Estimate, exact_count, linear_trend, median_order_statistic
from deshi.kpis.records import ItemRecord, ModelEvent, by_month, by_week

__all__ = [
    "accuracy_gain_per_1000_reviews",
    "accuracy_gain_per_week",
    "active_reviewers_per_month",
    "active_reviewers_per_week",
    "feedback_per_week",
    "labels_covered_per_week",
    "retraining_cycle_days",
    "reviews_per_week",
]

SECONDS_PER_DAY = 86400.0
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY


def _review_time(item: ItemRecord) -> datetime | None:
    """When the human feedback arrived; None for items nobody reviewed."""
    return item.completed_at if item.is_reviewed else None


def reviews_per_week(items: Sequence[ItemRecord]) -> dict[str, Estimate]:
    """Data velocity: reviews completed per ISO week (a count, so the interval is the point)."""
    return feedback_per_week(items)[0]


def labels_covered_per_week(items: Sequence[ItemRecord]) -> dict[str, int]:
    """Diversity: distinct final labels among the reviews completed in each ISO week."""
    return feedback_per_week(items)[1]


def _distinct_reviewers(group: Sequence[ItemRecord]) -> int:
    return len({item.reviewer_id for item in group if item.reviewer_id is not None})


def active_reviewers_per_week(items: Sequence[ItemRecord]) -> dict[str, int]:
    """Distinct reviewers who completed at least one review in each ISO week."""
    return feedback_per_week(items)[2]


def feedback_per_week(
    items: Sequence[ItemRecord],
) -> tuple[dict[str, Estimate], dict[str, int], dict[str, int]]:
    """`reviews_per_week`, `labels_covered_per_week` and `active_reviewers_per_week` from one
    grouping of the items by review week (a report shows all three)."""
    grouped = by_week(items, moment=_review_time)
    reviews = {week: exact_count(len(group)) for week, group in grouped.items()}
    labels = {
        week: len({item.final_label for item in group if item.final_label is not None})
        for week, group in grouped.items()
    }
    reviewers = {week: _distinct_reviewers(group) for week, group in grouped.items()}
    return reviews, labels, reviewers


def active_reviewers_per_month(items: Sequence[ItemRecord]) -> dict[str, int]:
    """Distinct reviewers who completed at least one review in each calendar month."""
    return {
        month: _distinct_reviewers(group)
        for month, group in by_month(items, moment=_review_time).items()
    }


def _in_order(events: Sequence[ModelEvent]) -> list[ModelEvent]:
    return sorted(events, key=lambda event: event.promoted_at)


def accuracy_gain_per_week(
    events: Sequence[ModelEvent], *, confidence: float = 0.95
) -> Estimate | None:
    """Improvement speed: OLS slope of promoted accuracy on weeks (t interval; >= 3 promotions)."""
    ordered = _in_order(events)
    if not ordered:
        return None
    start = ordered[0].promoted_at
    weeks = [(event.promoted_at - start).total_seconds() / SECONDS_PER_WEEK for event in ordered]
    return linear_trend(weeks, [event.accuracy for event in ordered], confidence=confidence)


def accuracy_gain_per_1000_reviews(
    events: Sequence[ModelEvent], *, confidence: float = 0.95
) -> Estimate | None:
    """OLS slope of promoted accuracy on thousands of reviews learned from (>= 3 promotions)."""
    ordered = _in_order(events)
    thousands = [event.n_reviews_at_promotion / 1000.0 for event in ordered]
    return linear_trend(thousands, [event.accuracy for event in ordered], confidence=confidence)


def retraining_cycle_days(
    items: Sequence[ItemRecord], events: Sequence[ModelEvent], *, confidence: float = 0.95
) -> Estimate | None:
    """Median days from a correction to the first model promoted at or after it.

    Corrections not yet followed by a promotion are left out (still open), so while retraining
    lags the median is optimistic; compare with the count of open corrections. The interval is
    the distribution-free order-statistic interval for a median.
    """
    promotions = sorted(event.promoted_at for event in events)
    delays: list[float] = []
    for item in items:
        corrected_at = item.completed_at if item.review_action == "correct" else None
        if corrected_at is None:
            continue
        first_after = bisect_left(promotions, corrected_at)
        if first_after < len(promotions):
            delays.append(
                (promotions[first_after] - corrected_at).total_seconds() / SECONDS_PER_DAY
            )
    return median_order_statistic(delays, confidence=confidence)
