"""Product layer: automation, acceptance, correction, handling time, queue, time to value."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from kpi_records import MONDAY, audit_item, auto_item, human_only_item, open_item, reviewed_item

from deshi.engine.metrics import Estimate
from deshi.kpis.product import (
    acceptance_rate,
    automation_rate,
    correction_rate,
    handling_time,
    handling_time_by_arm,
    queue_snapshot,
    time_to_value,
)
from deshi.kpis.records import ItemRecord


def test_automation_rate_counts_auto_route_only() -> None:
    items = [auto_item(), auto_item(), audit_item(), reviewed_item(), human_only_item()]
    estimate = automation_rate(items)
    assert estimate is not None
    assert estimate.value == pytest.approx(2 / 5)
    assert estimate.n == 5


def _suggested_reviews() -> list[ItemRecord]:
    return [
        reviewed_item(action="accept"),
        reviewed_item(action="accept"),
        reviewed_item(action="accept"),
        reviewed_item(final="b", action="correct"),
        human_only_item(),  # no suggestion shown
        audit_item(wrong=True),  # blind: no suggestion shown
        auto_item(),  # nobody reviewed it
    ]


def test_acceptance_is_accepts_over_reviews_that_showed_a_suggestion() -> None:
    estimate = acceptance_rate(_suggested_reviews())
    assert estimate is not None
    assert estimate.value == pytest.approx(0.75)
    assert estimate.n == 4


def test_correction_is_corrections_over_reviews_that_showed_a_suggestion() -> None:
    estimate = correction_rate(_suggested_reviews())
    assert estimate is not None
    assert estimate.value == pytest.approx(0.25)
    assert estimate.n == 4


def test_an_explicit_suggestion_flag_overrides_the_derived_one() -> None:
    shadow = ItemRecord(
        created_at=MONDAY,
        arm="assisted",
        route="review",
        agent_label="a",
        final_label="a",
        review_action="accept",
        completed_at=MONDAY,
        suggestion_shown=False,  # shadow mode: the agent's label was hidden
    )
    assert acceptance_rate([shadow]) is None


def test_handling_time_counts_auto_items_as_zero_and_skips_open_items() -> None:
    items = [auto_item(), reviewed_item(seconds=60.0), reviewed_item(seconds=120.0)]
    items.append(open_item(created=MONDAY))
    estimate = handling_time(items)
    assert estimate is not None
    assert estimate.value == pytest.approx(60.0)
    assert estimate.n == 3


def test_handling_time_is_reported_for_every_arm() -> None:
    items = [human_only_item(seconds=600.0), human_only_item(seconds=400.0), auto_item()]
    by_arm = handling_time_by_arm(items)
    assert set(by_arm) == {"human_only", "assisted", "ai_led"}
    assert by_arm["human_only"] is not None
    assert by_arm["human_only"].value == pytest.approx(500.0)
    assert by_arm["assisted"] is None  # no items
    assert by_arm["ai_led"] is None  # a single item has no interval


def test_queue_snapshot_counts_items_waiting_for_a_human_at_that_instant() -> None:
    at = MONDAY + timedelta(hours=10)
    items = [
        open_item(created=MONDAY),  # waiting 10 h
        open_item(created=MONDAY + timedelta(hours=8), route="audit"),  # waiting 2 h
        reviewed_item(review_delay_hours=20.0),  # reviewed after `at`: was waiting 10 h
        reviewed_item(review_delay_hours=1.0),  # done before `at`
        open_item(created=at + timedelta(hours=1)),  # not yet arrived
        auto_item(),  # never queued
    ]
    snapshot = queue_snapshot(items, at)
    assert snapshot.open_items == 3
    assert snapshot.oldest_age_hours == pytest.approx(10.0)
    assert snapshot.median_age_hours is not None
    assert snapshot.median_age_hours.value == pytest.approx(10.0)


def test_an_empty_queue_has_no_age() -> None:
    snapshot = queue_snapshot([auto_item()], MONDAY + timedelta(days=1))
    assert (snapshot.open_items, snapshot.median_age_hours, snapshot.oldest_age_hours) == (
        0,
        None,
        None,
    )


def test_time_to_value_ends_at_the_first_week_with_savings_proven_positive() -> None:
    created = datetime(2025, 1, 6)  # Monday of 2025-W02
    weekly = {
        "2025-W02": Estimate(-10.0, -30.0, 5.0, 10),
        "2025-W03": Estimate(50.0, 10.0, 90.0, 40),
        "2025-W04": Estimate(80.0, 40.0, 120.0, 60),
    }
    assert time_to_value(created, weekly) == pytest.approx(14.0)  # end of W03 = Jan 20


def test_time_to_value_can_accept_a_positive_point_estimate() -> None:
    created = datetime(2025, 1, 6)
    weekly = {"2025-W02": Estimate(5.0, -30.0, 40.0, 10), "2025-W03": None}
    assert time_to_value(created, weekly, require_confidence=False) == pytest.approx(7.0)
    assert time_to_value(created, weekly) is None
