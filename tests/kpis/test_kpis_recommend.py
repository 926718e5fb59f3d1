"""Scale / hold / stop over one period, its reasons, and what would change a hold."""

from __future__ import annotations

import math

from deshi.engine.metrics import Estimate
from deshi.kpis.budget import BudgetEvidence, budget_evidence
from deshi.kpis.recommend import Evidence, Period, recommend
from deshi.kpis.records import KpiPolicy

POLICY = KpiPolicy(error_budget=0.01, acceptance_target=0.8, weeks_required=2)
TWELVE_WEEKS = Period("2026-W36", "2026-W47", 12)
GOOD_SAVINGS = Estimate(5000.0, 1000.0, 9000.0, 100)
UNSURE_SAVINGS = Estimate(2000.0, -1000.0, 5000.0, 100)
BAD_SAVINGS = Estimate(-5000.0, -9000.0, -1000.0, 100)
HIGH_ACCEPTANCE = Estimate(0.9, 0.85, 0.94, 200)
LOW_ACCEPTANCE = Estimate(0.7, 0.63, 0.76, 200)


def _budget(audits: int, errors: int, budget: float = 0.01) -> BudgetEvidence:
    found = budget_evidence(audits, errors, budget=budget, confidence=0.95)
    assert found is not None
    return found


SAFE = _budget(600, 0)  # 600 error-free audits prove 1 %
UNPROVEN = _budget(170, 0)  # the demo's twelve weeks of 5 % audits do not
BROKEN = _budget(100, 8)


def _evidence(
    *,
    period: Period = TWELVE_WEEKS,
    savings: Estimate | None = GOOD_SAVINGS,
    budget: BudgetEvidence | None = SAFE,
    acceptance: Estimate | None = HIGH_ACCEPTANCE,
    audits_per_week: float = 17.0,
    audit_rate: float = 0.05,
) -> Evidence:
    return Evidence(period, savings, budget, acceptance, "USD", audits_per_week, audit_rate)


def _codes(evidence: Evidence) -> tuple[str, list[str]]:
    found = recommend(evidence, POLICY)
    return found.action, [reason.code for reason in found.reasons]


def test_scale_when_every_condition_holds_over_the_period() -> None:
    assert _codes(_evidence()) == ("scale", ["savings_positive", "budget_holds", "acceptance_met"])


def test_the_recommendation_names_the_period_it_judges() -> None:
    assert recommend(_evidence(), POLICY).period == TWELVE_WEEKS


def test_reasons_carry_their_numbers_with_units() -> None:
    savings, budget, acceptance = recommend(_evidence(), POLICY).reasons
    assert savings.params == {"value": 5000.0, "low": 1000.0, "currency": "USD"}
    assert "at least 1,000.00 USD" in savings.message
    assert budget.params["audits"] == 600 and budget.params["errors"] == 0
    assert budget.params["upper_bound"] == round(SAFE.estimate.high, 4) <= 0.01
    assert "0 error(s) in 600 audits" in budget.message and "<= 1.00%" in budget.message
    assert acceptance.params == {"value": 0.9, "target": 0.8}


def test_hold_while_fewer_weeks_than_required_were_observed() -> None:
    evidence = _evidence(period=Period("2026-W47", "2026-W47", 1))
    assert _codes(evidence) == ("hold", ["not_enough_weeks"])


def test_hold_when_savings_are_not_proven() -> None:
    action, codes = _codes(_evidence(savings=UNSURE_SAVINGS))
    assert (action, codes) == ("hold", ["savings_not_proven"])
    reason = recommend(_evidence(savings=UNSURE_SAVINGS), POLICY).reasons[0]
    assert "lower bound -1,000.00 USD" in reason.message


def test_hold_when_acceptance_is_below_the_owners_target() -> None:
    assert _codes(_evidence(acceptance=LOW_ACCEPTANCE)) == ("hold", ["acceptance_below_target"])


def test_hold_on_an_unproven_budget_says_how_many_audits_and_weeks_would_prove_it() -> None:
    found = recommend(_evidence(budget=UNPROVEN), POLICY)
    assert found.action == "hold"
    assert [r.code for r in found.reasons] == ["budget_not_proven", "audits_needed"]
    needed = found.reasons[1].params
    # by hand: with 0 errors the proof evidence is (1 - (1-ε)^(n+1)) / ((n+1) ε (1-ε)^n),
    # which must reach 1/α = 20; the first n that does, minus the 170 audits already made
    n = 0
    while (1 - 0.99 ** (n + 1)) / ((n + 1) * 0.01 * 0.99**n) < 20:
        n += 1
    assert needed["audits"] == n - 170 == UNPROVEN.audits_needed
    assert needed["weeks"] == math.ceil((n - 170) / 17.0)
    # twice the required weeks would be too slow: the rate that does it in 2 weeks
    raised = math.ceil(0.05 * (n - 170) / (17.0 * 2) * 100) / 100
    assert needed["raised_rate"] == min(raised, 0.5)
    assert needed["raised_weeks"] == math.ceil((n - 170) / (17.0 * needed["raised_rate"] / 0.05))
    assert f"{n - 170} more error-free audits prove the budget" in found.reasons[1].message


def test_a_hold_at_a_sufficient_pace_suggests_no_higher_audit_rate() -> None:
    found = recommend(_evidence(budget=_budget(440, 0), audits_per_week=30.0), POLICY)
    needed = found.reasons[-1]
    assert needed.code == "audits_needed" and "raised_rate" not in needed.params
    assert needed.params["weeks"] == math.ceil(needed.params["audits"] / 30.0) <= 2


def test_without_audits_the_hold_says_no_audit_is_coming() -> None:
    found = recommend(_evidence(budget=None, audits_per_week=0.0), POLICY)
    codes = [r.code for r in found.reasons]
    assert codes == ["budget_unmeasured", "audits_needed"]
    assert "weeks" not in found.reasons[-1].params


def test_hold_names_every_unmeasured_condition() -> None:
    evidence = _evidence(savings=None, budget=None, acceptance=None)
    action, codes = _codes(evidence)
    assert action == "hold"
    assert codes[:3] == ["savings_unmeasured", "budget_unmeasured", "acceptance_unmeasured"]


def test_stop_when_the_audits_break_the_budget_even_early() -> None:
    evidence = _evidence(period=Period("2026-W47", "2026-W47", 1), budget=BROKEN)
    found = recommend(evidence, POLICY)
    assert (found.action, [r.code for r in found.reasons]) == ("stop", ["budget_broken"])
    assert found.reasons[0].params["lower_bound"] > 0.01
    assert "8 error(s) in 100 audits" in found.reasons[0].message


def test_stop_when_savings_are_negative_with_confidence_over_the_required_weeks() -> None:
    assert _codes(_evidence(savings=BAD_SAVINGS)) == ("stop", ["savings_negative"])
    short = _evidence(period=Period("2026-W47", "2026-W47", 1), savings=BAD_SAVINGS)
    assert _codes(short)[0] == "hold"


def test_no_week_at_all_holds_for_lack_of_evidence() -> None:
    found = recommend(_evidence(period=Period(), savings=None, budget=None, acceptance=None),
                      KpiPolicy())  # fmt: skip
    assert found.action == "hold"
    assert found.reasons[0].code == "not_enough_weeks"
    assert found.reasons[0].params == {"weeks_observed": 0, "weeks_required": 2}
