"""The error budget on every audit to date: anytime-valid bounds, the verdicts, audits needed."""

from __future__ import annotations

import math

import pytest

from deshi.engine.policy import AuditMonitor, MonitorState
from deshi.kpis.budget import (
    audit_plan,
    audits_to_prove,
    breaks,
    budget_evidence,
    lower_bound,
    proves,
    upper_bound,
)


def _proof_by_hand(audits: int, budget: float) -> float:
    """The proof evidence of error-free audits, in closed form."""
    n = audits
    return (1 - (1 - budget) ** (n + 1)) / ((n + 1) * budget * (1 - budget) ** n)


@pytest.mark.parametrize("budget", [0.01, 0.05, 0.1])
def test_error_free_audits_needed_match_the_closed_form(budget: float) -> None:
    n = 0
    while _proof_by_hand(n, budget) < 20:
        n += 1
    assert audits_to_prove(0, 0, budget, 0.05) == n
    assert not proves(n - 1, 0, budget, 0.05) and proves(n, 0, budget, 0.05)


def test_a_week_of_audits_cannot_prove_one_percent_but_the_weeks_together_can() -> None:
    assert not proves(17, 0, 0.01, 0.05)
    assert proves(17 * 30, 0, 0.01, 0.05)


@pytest.mark.parametrize(("audits", "errors"), [(50, 0), (200, 1), (300, 3), (100, 10), (20, 5)])
def test_the_bounds_agree_with_the_verdicts_they_invert(audits: int, errors: int) -> None:
    upper, lower = upper_bound(audits, errors, 0.05), lower_bound(audits, errors, 0.05)
    assert lower <= errors / audits <= upper
    for budget in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        assert (upper <= budget) == proves(audits, errors, budget, 0.05)
        assert (lower > budget) == breaks(audits, errors, budget, 0.05)


@pytest.mark.parametrize(("audits", "errors"), [(30, 0), (40, 3), (60, 5), (100, 4), (100, 9)])
def test_broken_is_exactly_when_the_agents_monitor_suspends_autopilot(
    audits: int, errors: int
) -> None:
    monitor = AuditMonitor(audits, errors)
    suspended = monitor.state(0.02, 0.05) is MonitorState.SUSPENDED
    assert breaks(audits, errors, 0.02, 0.05) == suspended


def test_evidence_carries_counts_bounds_verdicts_and_what_is_missing() -> None:
    found = budget_evidence(170, 0, budget=0.01, confidence=0.95)
    assert found is not None
    assert (found.audits, found.errors, found.holds, found.broken) == (170, 0, False, False)
    assert found.estimate.value == 0.0 and found.estimate.n == 170
    assert found.estimate.high > 0.01
    assert found.audits_needed == audits_to_prove(170, 0, 0.01, 0.05) > 0
    assert budget_evidence(0, 0, budget=0.01, confidence=0.95) is None


def test_audit_plan_turns_missing_audits_into_weeks_at_the_current_and_a_raised_rate() -> None:
    plan = audit_plan(279, audits_per_week=17.0, audit_rate=0.05, target_weeks=2)
    assert plan.weeks == math.ceil(279 / 17)  # 17 weeks
    # 279 audits in 2 weeks need 139.5 a week: 0.05 × 139.5 / 17 = 41.03 % → 42 %
    assert plan.raised_rate == 0.42
    assert plan.weeks_at_raised_rate == math.ceil(279 / (17 * 0.42 / 0.05))  # 2


def test_audit_plan_caps_the_suggested_rate_and_knows_when_no_audit_comes() -> None:
    capped = audit_plan(5000, audits_per_week=17.0, audit_rate=0.05, target_weeks=2)
    assert capped.raised_rate == 0.5
    assert capped.weeks_at_raised_rate == math.ceil(5000 / 170)
    assert audit_plan(10, audits_per_week=0.0, audit_rate=0.05, target_weeks=2).weeks is None
