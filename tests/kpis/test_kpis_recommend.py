"""Scale / hold / stop recommendation and its reasons."""

from __future__ import annotations

from kpi_records import audit_item, auto_item, human_only_item, reviewed_item

from deshi.engine.metrics import Estimate
from deshi.kpis.recommend import WeekEvidence, recommend, weekly_evidence
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy

POLICY = KpiPolicy(error_budget=0.01, acceptance_target=0.8, weeks_required=2)
GOOD_SAVINGS = Estimate(5000.0, 1000.0, 9000.0, 100)
UNSURE_SAVINGS = Estimate(2000.0, -1000.0, 5000.0, 100)
BAD_SAVINGS = Estimate(-5000.0, -9000.0, -1000.0, 100)
SAFE_ERROR = Estimate(0.0, 0.0, 0.008, 460)
UNPROVEN_ERROR = Estimate(0.0, 0.0, 0.06, 60)
BROKEN_ERROR = Estimate(0.08, 0.04, 0.14, 100)
HIGH_ACCEPTANCE = Estimate(0.9, 0.85, 0.94, 200)
LOW_ACCEPTANCE = Estimate(0.7, 0.63, 0.76, 200)


def _week(
    week: str,
    savings: Estimate | None = GOOD_SAVINGS,
    error: Estimate | None = SAFE_ERROR,
    acceptance: Estimate | None = HIGH_ACCEPTANCE,
) -> WeekEvidence:
    return WeekEvidence(week, savings, error, acceptance)


def _codes(weeks: list[WeekEvidence]) -> tuple[str, list[str]]:
    recommendation = recommend(weeks, POLICY)
    return recommendation.action, [reason.code for reason in recommendation.reasons]


def test_scale_when_every_condition_held_for_the_required_weeks() -> None:
    weeks = [_week("2025-W01", savings=BAD_SAVINGS), _week("2025-W02"), _week("2025-W03")]
    assert _codes(weeks) == ("scale", ["savings_positive", "budget_holds", "acceptance_met"])


def test_scale_reasons_carry_their_numbers() -> None:
    reasons = recommend([_week("2025-W02"), _week("2025-W03")], POLICY).reasons
    savings = reasons[0]
    assert savings.params == {"weeks": 2, "lowest_bound": 1000.0}
    assert "1,000.00" in savings.message
    assert reasons[1].params == {"upper_bound": 0.008, "budget": 0.01}


def test_hold_while_fewer_weeks_than_required_were_observed() -> None:
    assert _codes([_week("2025-W03")]) == ("hold", ["not_enough_weeks"])


def test_hold_when_one_recent_week_fell_short() -> None:
    weeks = [_week("2025-W02", savings=UNSURE_SAVINGS), _week("2025-W03")]
    assert _codes(weeks) == ("hold", ["savings_not_proven"])


def test_hold_when_the_error_budget_is_not_proven() -> None:
    weeks = [_week("2025-W02"), _week("2025-W03", error=UNPROVEN_ERROR)]
    assert _codes(weeks) == ("hold", ["budget_not_proven"])


def test_hold_when_acceptance_is_below_the_owners_target() -> None:
    weeks = [_week("2025-W02", acceptance=LOW_ACCEPTANCE), _week("2025-W03")]
    assert _codes(weeks) == ("hold", ["acceptance_below_target"])


def test_hold_names_every_unmeasured_condition() -> None:
    weeks = [_week("2025-W02"), _week("2025-W03", savings=None, error=None, acceptance=None)]
    assert _codes(weeks) == (
        "hold",
        ["savings_unmeasured", "budget_unmeasured", "acceptance_unmeasured"],
    )


def test_stop_when_savings_were_negative_with_confidence_for_the_required_weeks() -> None:
    weeks = [_week("2025-W02", savings=BAD_SAVINGS), _week("2025-W03", savings=BAD_SAVINGS)]
    assert _codes(weeks) == ("stop", ["savings_negative"])


def test_one_bad_week_is_not_enough_to_stop() -> None:
    weeks = [_week("2025-W02", savings=UNSURE_SAVINGS), _week("2025-W03", savings=BAD_SAVINGS)]
    assert _codes(weeks)[0] == "hold"


def test_stop_when_the_latest_week_broke_the_budget_with_confidence() -> None:
    weeks = [_week("2025-W02"), _week("2025-W03", error=BROKEN_ERROR)]
    action, codes = _codes(weeks)
    assert (action, codes) == ("stop", ["budget_broken"])
    reason = recommend(weeks, POLICY).reasons[0]
    assert reason.params["week"] == "2025-W03"


def test_weeks_are_judged_in_calendar_order_whatever_the_input_order() -> None:
    weeks = [_week("2025-W03"), _week("2025-W01", savings=BAD_SAVINGS), _week("2025-W02")]
    assert _codes(weeks)[0] == "scale"


def _two_weeks_of_items() -> list[ItemRecord]:
    items = [human_only_item(seconds=600.0 + (i % 3) * 60) for i in range(40)]
    for day in (0.0, 7.0):
        items += [auto_item(day=day) for _ in range(50)]
        items += [audit_item(day=day, wrong=False, seconds=120.0) for _ in range(10)]
        items += [reviewed_item(day=day, seconds=120.0) for _ in range(9)]
        items.append(reviewed_item(day=day, final="b", action="correct", seconds=200.0))
    return items


def test_weekly_evidence_builds_one_row_per_week_from_items() -> None:
    costs = Costs(hourly_rate=3000.0, cost_per_escaped_error=5000.0, running_cost_per_week=100.0)
    evidence = weekly_evidence(_two_weeks_of_items(), costs, POLICY)
    assert [row.week for row in evidence] == ["2025-W02", "2025-W03"]
    second = evidence[1]
    assert second.acceptance is not None and second.acceptance.value == 0.9
    assert second.auto_error is not None and second.auto_error.n == 10
    assert second.net_savings is not None
    # Ten error-free audits cannot prove a 1% budget: the rule must hold, not scale.
    assert recommend(evidence, POLICY).action == "hold"


def test_no_weeks_at_all_holds_for_lack_of_evidence() -> None:
    result = recommend([], KpiPolicy())
    assert result.action == "hold"
    assert [r.code for r in result.reasons] == ["not_enough_weeks"]
