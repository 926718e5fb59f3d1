"""Early warnings: each one fires on its condition and stays quiet otherwise."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from deshi.engine.metrics import Estimate, proportion_wilson
from deshi.kpis.budget import budget_evidence
from deshi.kpis.warnings import (
    EarlyWarning,
    autopilot_suspended,
    backlog_growing,
    collect,
    error_budget_at_risk,
    feedback_falling,
    no_baseline,
    no_owner,
    quality_drift,
    stage_overdue,
)

CREATED = datetime(2025, 1, 6)


def test_no_owner_fires_for_a_missing_or_blank_owner() -> None:
    assert no_owner(None) is not None
    warning = no_owner("")
    assert warning is not None and warning.code == "no_owner"
    assert no_owner("hanako") is None


def test_no_baseline_fires_after_the_grace_period() -> None:
    warning = no_baseline(CREATED, datetime(2025, 1, 21), None)
    assert warning is not None
    assert (warning.code, warning.params) == ("no_baseline", {"days": 15})


def test_no_baseline_is_quiet_within_the_grace_period_or_once_measured() -> None:
    assert no_baseline(CREATED, datetime(2025, 1, 19), None) is None
    measured = Estimate(10.0, 9.0, 11.0, 30)
    assert no_baseline(CREATED, datetime(2025, 3, 1), measured) is None


def test_stage_overdue_fires_after_the_planned_end() -> None:
    warning = stage_overdue("limited_production", date(2025, 2, 1), date(2025, 2, 4))
    assert warning is not None
    assert warning.params["days_late"] == 3
    assert "limited_production" in warning.message


def test_stage_overdue_is_quiet_on_time_or_without_a_plan() -> None:
    assert stage_overdue("design", date(2025, 2, 1), date(2025, 2, 1)) is None
    assert stage_overdue("design", None, date(2025, 2, 1)) is None


def test_backlog_growing_fires_after_two_weeks_of_growth() -> None:
    warning = backlog_growing([40, 10, 20, 35])
    assert warning is not None
    assert warning.params == {"weeks": 2, "from": 10, "to": 35}


@pytest.mark.parametrize("series", [[10, 20, 20], [10, 30, 25], [10, 20], []])
def test_backlog_growing_is_quiet_without_two_rises_in_a_row(series: list[int]) -> None:
    assert backlog_growing(series) is None


def test_feedback_falling_fires_on_a_sustained_drop() -> None:
    warning = feedback_falling([100, 120, 90, 60])
    assert warning is not None
    assert warning.params == {"weeks": 2, "from": 120, "to": 60}


@pytest.mark.parametrize("series", [[100, 98, 97], [100, 80, 90], [100, 50]])
def test_feedback_falling_is_quiet_for_small_or_broken_drops(series: list[int]) -> None:
    assert feedback_falling(series) is None


def test_acceptance_drift_fires_on_a_significant_drop() -> None:
    reference = proportion_wilson(180, 200)
    recent = proportion_wilson(140, 200)
    warning = quality_drift("acceptance", reference, recent)
    assert warning is not None
    assert warning.code == "acceptance_drift"
    assert warning.params["from"] == 0.9 and warning.params["to"] == 0.7


def test_accuracy_drift_is_quiet_for_a_drop_within_noise() -> None:
    assert quality_drift("accuracy", proportion_wilson(18, 20), proportion_wilson(16, 20)) is None
    assert quality_drift("accuracy", proportion_wilson(16, 20), proportion_wilson(18, 20)) is None
    assert quality_drift("accuracy", None, proportion_wilson(1, 2)) is None


def test_error_budget_broken_is_critical() -> None:
    warning = error_budget_at_risk(Estimate(0.05, 0.02, 0.09, 200), 0.01)
    assert warning is not None
    assert (warning.code, warning.severity) == ("error_budget_broken", "critical")


def test_error_budget_at_risk_warns_near_the_budget() -> None:
    warning = error_budget_at_risk(Estimate(0.009, 0.002, 0.02, 1000), 0.01)
    assert warning is not None
    assert (warning.code, warning.severity) == ("error_budget_at_risk", "warning")


def test_error_budget_at_risk_is_quiet_well_within_budget_or_unmeasured() -> None:
    assert error_budget_at_risk(Estimate(0.002, 0.0, 0.008, 1000), 0.01) is None
    assert error_budget_at_risk(None, 0.01) is None


def test_autopilot_suspended_fires_with_its_reason() -> None:
    warning = autopilot_suspended(True, reason="audit bound above budget", since=CREATED)
    assert warning is not None
    assert warning.severity == "critical"
    assert "audit bound above budget" in warning.message
    assert warning.params["since"] == "2025-01-06T00:00:00"
    assert autopilot_suspended(False) is None


def test_collect_keeps_fired_warnings_most_severe_first() -> None:
    fired = collect(no_owner(None), None, autopilot_suspended(True), no_owner("x"))
    assert [warning.code for warning in fired] == ["autopilot_suspended", "no_owner"]
    assert all(isinstance(warning, EarlyWarning) for warning in fired)


def test_broken_follows_the_periods_audits_when_given_as_the_verdict_does() -> None:
    one_bad_week = Estimate(0.2, 0.05, 0.45, 20)  # Clopper-Pearson alone would say broken
    calm = budget_evidence(400, 3, budget=0.05, confidence=0.95)
    warning = error_budget_at_risk(one_bad_week, 0.05, period=calm)
    assert warning is not None and warning.code == "error_budget_at_risk"
    broken = budget_evidence(100, 15, budget=0.05, confidence=0.95)
    assert broken is not None and broken.broken
    warning = error_budget_at_risk(None, 0.05, period=broken)
    assert warning is not None and warning.code == "error_budget_broken"
    assert warning.params["lower_bound"] == round(broken.estimate.low, 4)
