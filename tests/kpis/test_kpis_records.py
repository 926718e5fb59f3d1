"""Records and grouping: ISO weeks, months, arms, and per-week KPI evaluation."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from kpi_records import MONDAY, auto_item, human_only_item, reviewed_item

from deshi.kpis.product import automation_rate
from deshi.kpis.records import (
    Costs,
    ItemRecord,
    KpiPolicy,
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


def test_records_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="handling_seconds"):
        ItemRecord(MONDAY, "assisted", "review", "a", handling_seconds=-1.0)
    with pytest.raises(ValueError, match="confidence"):
        ItemRecord(MONDAY, "assisted", "review", "a", confidence=1.5)
    with pytest.raises(ValueError, match="costs"):
        Costs(hourly_rate=-1.0, cost_per_escaped_error=0.0)
    with pytest.raises(ValueError, match="error_budget"):
        KpiPolicy(error_budget=0.0)
