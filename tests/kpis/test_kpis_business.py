"""Business layer: baseline, hours and money saved, escaped errors, net savings and ROI."""

from __future__ import annotations

import numpy as np
import pytest
from kpi_records import audit_item, auto_item, human_only_item, reviewed_item
from scipy.stats import ttest_ind

from deshi.engine.metrics import Estimate
from deshi.kpis.business import (
    baseline_minutes_per_item,
    baseline_seconds,
    escaped_error_cost,
    escaped_errors,
    hours_saved,
    overall_savings,
    savings,
    weekly_savings,
)
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy

COSTS = Costs(hourly_rate=3000.0, cost_per_escaped_error=5000.0, running_cost_per_week=1000.0)


def _baseline(n: int = 30, *, day: float = 0.0) -> list[ItemRecord]:
    """Human-only items alternating 300 s and 900 s: mean 600 s = 10 minutes."""
    return [human_only_item(day=day, seconds=300.0 if i % 2 else 900.0) for i in range(n)]


def test_baseline_is_measured_from_completed_human_only_items() -> None:
    items = [*_baseline(30), reviewed_item(seconds=5.0), auto_item()]
    estimate = baseline_minutes_per_item(items, min_items=30)
    assert estimate is not None
    assert estimate.value == pytest.approx(10.0)
    assert estimate.n == 30


def test_no_baseline_below_the_minimum_number_of_items() -> None:
    assert baseline_minutes_per_item(_baseline(29), min_items=30) is None


def test_the_imported_history_stands_in_until_the_live_baseline_has_enough_items() -> None:
    history = [1200.0, 1800.0] * 15  # 30 items, mean 1,500 s = 25 minutes
    treated = [reviewed_item(seconds=60.0), reviewed_item(seconds=60.0)]
    assert baseline_seconds([*_baseline(29), *treated], history) == (history, "history")
    estimate = baseline_minutes_per_item(_baseline(29), history_seconds=history)
    assert estimate is not None and estimate.value == pytest.approx(25.0)
    saved = hours_saved(treated, history_seconds=history)
    assert saved is not None and saved.value == pytest.approx(2 * (1500.0 - 60.0) / 3600.0)
    live, source = baseline_seconds([*_baseline(30), *treated], history)
    assert source == "live" and len(live) == 30  # the live arm replaces the history at once
    assert baseline_seconds(treated, history[:29]) == ([], None)
    assert hours_saved(treated, history_seconds=history[:29]) is None


def test_hours_saved_is_treated_items_times_the_saved_time_per_item() -> None:
    treated = [reviewed_item(seconds=120.0), reviewed_item(seconds=120.0), auto_item(), auto_item()]
    estimate = hours_saved([*_baseline(30), *treated])
    assert estimate is not None
    assert estimate.value == pytest.approx(4 * (600.0 - 60.0) / 3600.0)  # 0.6 hours
    baseline_seconds = [300.0 if i % 2 else 900.0 for i in range(30)]
    welch = ttest_ind(baseline_seconds, [120.0, 120.0, 0.0, 0.0], equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert estimate.low == pytest.approx(interval.low * 4 / 3600.0)
    assert estimate.high == pytest.approx(interval.high * 4 / 3600.0)


def test_hours_saved_can_use_a_separate_pooled_baseline() -> None:
    treated = [reviewed_item(seconds=60.0), reviewed_item(seconds=60.0)]
    assert hours_saved(treated) is None
    estimate = hours_saved(treated, baseline_items=_baseline(30))
    assert estimate is not None
    assert estimate.value == pytest.approx(2 * 540.0 / 3600.0)


def test_escaped_errors_are_auto_items_times_the_audited_error() -> None:
    items = [auto_item() for _ in range(100)]
    auto_error = Estimate(0.05, 0.01, 0.2, 20)
    assert escaped_errors(items, auto_error) == Estimate(5.0, 1.0, 20.0, 20)
    cost = escaped_error_cost(items, auto_error, COSTS)
    assert cost == Estimate(25_000.0, 5_000.0, 100_000.0, 20)


def test_without_auto_completion_no_error_escapes() -> None:
    assert escaped_errors([reviewed_item()], None) == Estimate(0.0, 0.0, 0.0, 0)


def test_auto_completion_without_audits_leaves_escaped_errors_unknown() -> None:
    assert escaped_errors([auto_item()], None) is None


def _week_of_work() -> list[ItemRecord]:
    treated = [auto_item() for _ in range(80)]
    treated += [audit_item(wrong=i == 0, seconds=120.0) for i in range(20)]
    treated += [reviewed_item(seconds=120.0) for _ in range(20)]
    return [*_baseline(40), *treated]


def test_net_savings_and_roi_combine_the_component_bounds() -> None:
    result = savings(_week_of_work(), COSTS, weeks=1)
    assert result is not None
    assert result.hours_saved == hours_saved(_week_of_work(), confidence=0.975)
    assert result.money_saved == result.hours_saved.scaled(3000.0)
    assert result.escaped_errors.value == pytest.approx(80 * 1 / 20)
    assert result.running_cost == 1000.0
    money, errors, net = result.money_saved, result.escaped_error_cost, result.net
    assert net.value == pytest.approx(money.value - errors.value - 1000.0)
    assert net.low == pytest.approx(money.low - errors.high - 1000.0)
    assert net.high == pytest.approx(money.high - errors.low - 1000.0)
    assert result.roi is not None
    assert result.roi.value == pytest.approx(net.value / 1000.0)
    assert result.currency == "JPY"


def test_roi_is_undefined_without_running_cost() -> None:
    free = Costs(hourly_rate=3000.0, cost_per_escaped_error=5000.0)
    result = savings(_week_of_work(), free, weeks=1)
    assert result is not None
    assert result.roi is None


def test_savings_are_unmeasurable_without_a_baseline() -> None:
    assert savings([reviewed_item(), reviewed_item()], COSTS, weeks=1) is None


def test_weekly_savings_pool_the_baseline_and_charge_one_week_each() -> None:
    items = [*_baseline(40), *[reviewed_item(day=7.0, seconds=60.0) for _ in range(10)]]
    weekly = weekly_savings(items, COSTS, KpiPolicy(min_baseline_items=30))
    assert list(weekly) == ["2025-W02", "2025-W03"]
    assert weekly["2025-W02"] is None  # baseline only, no treated items
    week3 = weekly["2025-W03"]
    assert week3 is not None
    assert week3.hours_saved.value == pytest.approx(10 * 540.0 / 3600.0)
    assert week3.running_cost == 1000.0


def test_overall_savings_charge_every_week_spanned() -> None:
    items = [*_baseline(40), *[reviewed_item(day=14.0, seconds=60.0) for _ in range(10)]]
    result = overall_savings(items, COSTS, KpiPolicy())
    assert result is not None
    assert result.running_cost == 3000.0  # W02, W03, W04


TREATED_MEAN_SECONDS = 100.0  # half auto-completed (0 s), half reviewed (200 s on average)


def test_net_savings_interval_covers_the_true_net_savings() -> None:
    rng = np.random.default_rng(21)
    error_rate, hits, hour_hits, runs = 0.05, 0, 0, 400
    for _ in range(runs):
        items = [human_only_item(seconds=float(s)) for s in rng.exponential(600.0, 40)]
        auto_count = 0
        for _ in range(60):
            if rng.uniform() < 0.5:
                items.append(auto_item())
                auto_count += 1
            elif rng.uniform() < 0.5:
                wrong = bool(rng.uniform() < error_rate)
                items.append(audit_item(wrong=wrong, seconds=float(rng.exponential(200.0))))
            else:
                items.append(reviewed_item(seconds=float(rng.exponential(200.0))))
        result = savings(items, COSTS, weeks=1)
        treated = sum(1 for item in items if item.arm != "human_only")
        hours = treated * (600.0 - TREATED_MEAN_SECONDS) / 3600.0
        truth = (
            hours * COSTS.hourly_rate
            - auto_count * error_rate * COSTS.cost_per_escaped_error
            - 1000.0
        )
        hits += result is not None and result.net.contains(truth)
        hour_hits += result is not None and result.hours_saved.contains(hours)
    assert hits / runs >= 0.95  # Bonferroni over two components at 97.5%: conservative
    assert hour_hits / runs >= 0.95  # the hours component alone is at 97.5%
