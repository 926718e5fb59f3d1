"""Learning flywheel: data velocity, diversity, improvement speed, retraining cycle, reviewers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kpi_records import MONDAY, auto_item, reviewed_item

from deshi.engine.metrics import Estimate
from deshi.kpis.flywheel import (
    accuracy_gain_per_1000_reviews,
    accuracy_gain_per_week,
    active_reviewers_per_month,
    active_reviewers_per_week,
    labels_covered_per_week,
    retraining_cycle_days,
    reviews_per_week,
)
from deshi.kpis.records import ItemRecord, ModelEvent


def _feedback() -> list[ItemRecord]:
    return [
        reviewed_item(day=0, final="a", reviewer="ana"),
        reviewed_item(day=1, final="b", reviewer="ben"),
        reviewed_item(day=2, final="b", reviewer="ana"),
        reviewed_item(day=7, final="c", reviewer="ana"),
        reviewed_item(day=27, final="a", reviewer="cy"),  # 2025-02-02: W05, February
        auto_item(day=3),
    ]


def test_reviews_per_week_counts_reviews_by_completion_week() -> None:
    assert reviews_per_week(_feedback()) == {
        "2025-W02": Estimate(3.0, 3.0, 3.0, 3),
        "2025-W03": Estimate(1.0, 1.0, 1.0, 1),
        "2025-W05": Estimate(1.0, 1.0, 1.0, 1),
    }


def test_labels_covered_counts_distinct_final_labels_per_week() -> None:
    assert labels_covered_per_week(_feedback()) == {"2025-W02": 2, "2025-W03": 1, "2025-W05": 1}


def test_active_reviewers_are_distinct_people_per_week_and_month() -> None:
    assert active_reviewers_per_week(_feedback()) == {"2025-W02": 2, "2025-W03": 1, "2025-W05": 1}
    assert active_reviewers_per_month(_feedback()) == {"2025-01": 2, "2025-02": 1}


def _promotions() -> list[ModelEvent]:
    return [ModelEvent(MONDAY + timedelta(weeks=w), 0.70 + 0.02 * w, 500 * w) for w in (3, 0, 2, 1)]


def test_accuracy_gain_per_week_is_the_slope_over_promotions() -> None:
    estimate = accuracy_gain_per_week(_promotions())
    assert estimate is not None
    assert estimate.value == pytest.approx(0.02)
    assert estimate.n == 4


def test_accuracy_gain_per_1000_reviews_is_the_slope_over_reviews_learned() -> None:
    estimate = accuracy_gain_per_1000_reviews(_promotions())
    assert estimate is not None
    assert estimate.value == pytest.approx(0.04)


def test_accuracy_gain_needs_three_promotions() -> None:
    assert accuracy_gain_per_week(_promotions()[:2]) is None
    assert accuracy_gain_per_week([]) is None


def test_retraining_cycle_is_the_median_delay_to_the_next_promotion() -> None:
    corrections = [
        reviewed_item(day=0, final="b", action="correct", review_delay_hours=0),  # 3 days
        reviewed_item(day=2, final="b", action="correct", review_delay_hours=0),  # 1 day
        reviewed_item(day=20, final="b", action="correct", review_delay_hours=0),  # still open
        reviewed_item(day=1, action="accept", review_delay_hours=0),  # not a correction
    ]
    promotions = [
        ModelEvent(MONDAY + timedelta(days=10), 0.8, 300),
        ModelEvent(MONDAY + timedelta(days=3), 0.7, 200),
    ]
    estimate = retraining_cycle_days(corrections, promotions)
    assert estimate is not None
    assert estimate.value == pytest.approx(2.0)
    assert estimate.n == 2


def test_retraining_cycle_without_promotions_is_undefined() -> None:
    assert retraining_cycle_days([reviewed_item(final="b", action="correct")], []) is None
