"""Process inventory: expected savings formula, ranking and the 90-day plan."""

from __future__ import annotations

import pytest

from deshi.engine.stats import clopper_pearson_upper
from deshi.inventory.ranking import (
    CandidateProcess,
    audits_to_prove_budget,
    expected_automation_share,
    expected_yearly_savings,
    rank_processes,
)
from deshi.kpis.records import KpiPolicy

INVOICES = CandidateProcess("invoice coding", 1000, 6.0, 0.2, 4, 3000.0)
INQUIRIES = CandidateProcess("inquiry routing", 4000, 2.0, 0.1, 2, 3000.0)
ADDRESSES = CandidateProcess("address change", 200, 5.0, 0.0, 5, 3000.0)


def test_expected_automation_share_is_conservative() -> None:
    assert expected_automation_share(0.2) == pytest.approx(0.4)
    assert expected_automation_share(0.2, conservative_factor=1.0) == pytest.approx(0.8)


def test_expected_yearly_savings_follow_the_documented_formula() -> None:
    # 1000 items/month * 12 * 6 min / 60 * 3000/h * (1 - 0.2) * 0.5 = 1,440,000
    assert expected_yearly_savings(INVOICES) == pytest.approx(1_440_000.0)


def test_processes_rank_by_savings_weighted_by_measurability() -> None:
    ranked = rank_processes([ADDRESSES, INQUIRIES, INVOICES])
    # Inquiries save more (2,160,000) but measure poorly: 2,160,000 * 2/5 = 864,000 is below
    # invoices' 1,440,000 * 4/5 = 1,152,000; addresses: 300,000 * 5/5 = 300,000.
    assert [row.candidate.name for row in ranked] == [
        "invoice coding",
        "inquiry routing",
        "address change",
    ]
    assert [row.rank for row in ranked] == [1, 2, 3]
    assert ranked[1].expected_yearly_savings == pytest.approx(2_160_000.0)
    assert ranked[1].priority_score == pytest.approx(864_000.0)
    assert ranked[0].expected_yearly_hours == pytest.approx(480.0)
    assert ranked[2].priority_score == pytest.approx(300_000.0)


def test_every_process_gets_a_three_phase_ninety_day_plan_with_exit_criteria() -> None:
    plan = rank_processes([INVOICES], policy=KpiPolicy(error_budget=0.01))[0].plan
    assert [(phase.name, phase.start_day, phase.end_day) for phase in plan] == [
        ("design", 0, 14),
        ("limited_production", 15, 45),
        ("scale", 46, 90),
    ]
    assert all(phase.exit_criteria for phase in plan)
    budget = next(c for c in plan[1].exit_criteria if c.code == "budget_holds")
    assert budget.params == {"budget": 0.01, "min_audits": 368}
    on_track = next(c for c in plan[2].exit_criteria if c.code == "savings_on_track")
    assert on_track.params["monthly_target"] == pytest.approx(60_000.0)


def test_audits_to_prove_budget_is_the_smallest_sufficient_sample() -> None:
    n = audits_to_prove_budget(0.01, 0.95)
    assert clopper_pearson_upper(0, n, 0.025) <= 0.01 < clopper_pearson_upper(0, n - 1, 0.025)


@pytest.mark.parametrize(
    ("field", "value"), [("exception_rate", 1.5), ("measurability", 0), ("monthly_volume", -1)]
)
def test_invalid_candidates_are_rejected(field: str, value: float) -> None:
    arguments: dict[str, object] = {
        "name": "x",
        "monthly_volume": 10,
        "minutes_per_item": 1.0,
        "exception_rate": 0.1,
        "measurability": 3,
        "hourly_rate": 1.0,
    }
    arguments[field] = value
    with pytest.raises(ValueError):
        CandidateProcess(**arguments)  # type: ignore[arg-type]
