"""Records and grouping: ISO weeks, months, arms, and per-week KPI evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import pytest
from kpi_records import MONDAY, auto_item, human_only_item, reviewed_item

from deshi.kpis.product import automation_rate
from deshi.kpis.records import (
    Costs,
    ItemRecord,
    KpiPolicy,
    by_week,
    iso_week,
    month_of,
    only_arm,
    per_week,
    week_end,
    weeks_spanned,
)


def test_iso_week_keys_follow_iso_years() -> None:
    assert iso_week(date(2024, 12, 30)) == "2025-W01"
    assert iso_week(datetime(2025, 1, 5, 23, 59)) == "2025-W01"
    assert week_end("2025-W01") == datetime(2025, 1, 6)
    assert month_of(date(2025, 2, 3)) == "2025-02"


def test_weeks_spanned_counts_calendar_weeks_inclusive() -> None:
    assert weeks_spanned([]) == 0
    assert weeks_spanned([auto_item(day=0), auto_item(day=6.5)]) == 1  # Monday to Sunday
    assert weeks_spanned([auto_item(day=0), auto_item(day=7)]) == 2


def test_per_week_evaluates_a_kpi_for_each_week_and_arm() -> None:
    items = [auto_item(day=0), reviewed_item(day=1), auto_item(day=8), human_only_item(day=8)]
    weekly = per_week(items, automation_rate)
    assert list(weekly) == ["2025-W02", "2025-W03"]
    assert weekly["2025-W02"] is not None and weekly["2025-W02"].value == pytest.approx(0.5)
    ai_led = per_week(items, automation_rate, arm="ai_led")
    assert all(estimate is not None and estimate.value == 1.0 for estimate in ai_led.values())
    assert len(only_arm(items, "human_only")) == 1
    assert len(only_arm(items, None)) == 4


@pytest.mark.parametrize("zone", [None, UTC])
def test_by_week_groups_by_the_iso_week_key_keeping_each_weeks_order(zone: tzinfo | None) -> None:
    # by_week groups by day ordinals, not key strings: the same weeks as `iso_week` (across
    # ISO years of 52 and 53 weeks), in order, each week's items in their given order
    start = datetime(2020, 12, 20, 23, 59, tzinfo=zone)
    moments = [start + timedelta(hours=13 * step) for step in range(1100)]
    items = [
        ItemRecord(at, "ai_led", "auto", "a", completed_at=at + timedelta(days=step % 9))
        for step, at in enumerate(reversed(moments))  # newest first: order must be kept
    ]
    expected: dict[str, list[ItemRecord]] = {}
    for item in items:
        expected.setdefault(iso_week(item.created_at), []).append(item)
    grouped = by_week(items)
    assert list(grouped) == sorted(expected)
    assert grouped == expected
    assert {"2020-W53", "2021-W01", "2021-W52", "2022-W01"} <= set(grouped)
    done = by_week(items, moment=lambda item: item.completed_at)
    assert sum(len(group) for group in done.values()) == len(items)
    assert all(
        iso_week(item.completed_at or MONDAY) == week for week, g in done.items() for item in g
    )


def test_records_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="handling_seconds"):
        ItemRecord(MONDAY, "assisted", "review", "a", handling_seconds=-1.0)
    with pytest.raises(ValueError, match="confidence"):
        ItemRecord(MONDAY, "assisted", "review", "a", confidence=1.5)
    with pytest.raises(ValueError, match="costs"):
        Costs(hourly_rate=-1.0, cost_per_escaped_error=0.0)
    with pytest.raises(ValueError, match="error_budget"):
        KpiPolicy(error_budget=0.0)
