"""Scale / hold / stop: the owner's decision rule applied to weekly evidence, with its reasons.

- **scale** when, for each of the last `weeks_required` ISO weeks, net savings are positive with
  confidence (lower bound > 0), the error budget holds (upper bound on the audited auto-complete
  error <= epsilon) and acceptance meets the owner's target (point estimate >= target);
- **stop** when net savings were negative with confidence (upper bound < 0) in each of the last
  `weeks_required` weeks, or the latest week broke the budget with confidence (lower bound > eps);
- **hold** otherwise, with a reason for every condition that is not yet met.

Bounds are the two-sided intervals of the estimates at the policy's confidence, so each
one-sided check is made at level alpha/2: conservative on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from deshi.engine.metrics import Estimate
from deshi.kpis.business import weekly_savings
from deshi.kpis.model_quality import realized_auto_error
from deshi.kpis.product import acceptance_rate
from deshi.kpis.reasons import Param, Reason
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy, by_week

__all__ = ["Action", "Recommendation", "WeekEvidence", "recommend", "weekly_evidence"]

Action = Literal["scale", "hold", "stop"]


@dataclass(frozen=True, slots=True)
class WeekEvidence:
    """The three numbers the decision rule needs for one ISO week; None = not measurable."""

    week: str
    net_savings: Estimate | None
    auto_error: Estimate | None
    acceptance: Estimate | None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to do next, and why."""

    action: Action
    reasons: tuple[Reason, ...]


Check = tuple[bool, Reason]


def _bounds(
    recent: Sequence[WeekEvidence], pick: Callable[[WeekEvidence], float | None]
) -> tuple[list[float], str | None]:
    """The picked number of every week, or the first week where it is missing."""
    values: list[float] = []
    for week in recent:
        value = pick(week)
        if value is None:
            return [], week.week
        values.append(value)
    return values, None


def _unmeasured(code: str, what: str, week: str) -> Check:
    return False, Reason(code, f"{what} cannot be measured yet in {week}.", {"week": week})


def _savings_check(recent: Sequence[WeekEvidence]) -> Check:
    lows, missing = _bounds(recent, lambda w: w.net_savings.low if w.net_savings else None)
    if missing is not None:
        return _unmeasured("savings_unmeasured", "Net savings", missing)
    lowest = min(lows)
    params: dict[str, Param] = {"weeks": len(recent), "lowest_bound": round(lowest, 2)}
    if lowest > 0:
        message = (
            f"Net savings were positive with confidence for {len(recent)} week(s) "
            f"(lowest lower bound {lowest:,.2f})."
        )
        return True, Reason("savings_positive", message, params)
    message = (
        f"Net savings are not yet positive with confidence (lowest lower bound {lowest:,.2f})."
    )
    return False, Reason("savings_not_proven", message, params)


def _budget_check(recent: Sequence[WeekEvidence], budget: float) -> Check:
    highs, missing = _bounds(recent, lambda w: w.auto_error.high if w.auto_error else None)
    if missing is not None:
        return _unmeasured("budget_unmeasured", "The audited auto-complete error", missing)
    worst = max(highs)
    params: dict[str, Param] = {"upper_bound": round(worst, 4), "budget": budget}
    if worst <= budget:
        message = f"Auto-complete error is within budget: upper bound {worst:.2%} <= {budget:.2%}."
        return True, Reason("budget_holds", message, params)
    message = (
        f"Auto-complete error is not proven within budget: upper bound {worst:.2%} > {budget:.2%}."
    )
    return False, Reason("budget_not_proven", message, params)


def _acceptance_check(recent: Sequence[WeekEvidence], target: float) -> Check:
    values, missing = _bounds(recent, lambda w: w.acceptance.value if w.acceptance else None)
    if missing is not None:
        return _unmeasured("acceptance_unmeasured", "Acceptance", missing)
    lowest = min(values)
    params: dict[str, Param] = {"lowest": round(lowest, 4), "target": target}
    if lowest >= target:
        message = f"Acceptance met the target every week (lowest {lowest:.1%} >= {target:.1%})."
        return True, Reason("acceptance_met", message, params)
    message = f"Acceptance is below the target (lowest {lowest:.1%} < {target:.1%})."
    return False, Reason("acceptance_below_target", message, params)


def _savings_negative(recent: Sequence[WeekEvidence], policy: KpiPolicy) -> Reason | None:
    highs, missing = _bounds(recent, lambda w: w.net_savings.high if w.net_savings else None)
    if missing is not None or len(highs) < policy.weeks_required or max(highs) >= 0:
        return None
    worst = max(highs)
    message = (
        f"Net savings were negative with confidence for {len(highs)} week(s) "
        f"(highest upper bound {worst:,.2f})."
    )
    return Reason(
        "savings_negative", message, {"weeks": len(highs), "highest_bound": round(worst, 2)}
    )


def _budget_broken(recent: Sequence[WeekEvidence], budget: float) -> Reason | None:
    latest = recent[-1] if recent else None
    if latest is None or latest.auto_error is None or latest.auto_error.low <= budget:
        return None
    low = latest.auto_error.low
    message = f"Error budget broken in {latest.week}: lower bound {low:.2%} > {budget:.2%}."
    params: dict[str, Param] = {"week": latest.week, "lower_bound": round(low, 4), "budget": budget}
    return Reason("budget_broken", message, params)


def _stop_reasons(recent: Sequence[WeekEvidence], policy: KpiPolicy) -> list[Reason]:
    found = (_savings_negative(recent, policy), _budget_broken(recent, policy.error_budget))
    return [reason for reason in found if reason is not None]


def recommend(weeks: Sequence[WeekEvidence], policy: KpiPolicy) -> Recommendation:
    """Scale, hold or stop on the most recent `policy.weeks_required` weeks of evidence."""
    recent = sorted(weeks, key=lambda week: week.week)[-policy.weeks_required :]
    if not recent:
        message = f"No week observed yet; {policy.weeks_required} required."
        params: dict[str, Param] = {"weeks_observed": 0, "weeks_required": policy.weeks_required}
        return Recommendation("hold", (Reason("not_enough_weeks", message, params),))
    stop = _stop_reasons(recent, policy)
    if stop:
        return Recommendation("stop", tuple(stop))
    checks = [
        _savings_check(recent),
        _budget_check(recent, policy.error_budget),
        _acceptance_check(recent, policy.acceptance_target),
    ]
    reasons = [reason for passed, reason in checks if not passed]
    if len(recent) < policy.weeks_required:
        message = f"Only {len(recent)} of {policy.weeks_required} required week(s) observed."
        params = {
            "weeks_observed": len(recent),
            "weeks_required": policy.weeks_required,
        }
        reasons.insert(0, Reason("not_enough_weeks", message, params))
    if not reasons:
        return Recommendation("scale", tuple(reason for _, reason in checks))
    return Recommendation("hold", tuple(reasons))


def weekly_evidence(
    items: Sequence[ItemRecord], costs: Costs, policy: KpiPolicy
) -> list[WeekEvidence]:
    """Net savings, audited auto-complete error and acceptance for each ISO week of creation."""
    savings = weekly_savings(items, costs, policy)
    evidence: list[WeekEvidence] = []
    for week, week_items in by_week(items).items():
        week_savings = savings.get(week)
        evidence.append(
            WeekEvidence(
                week=week,
                net_savings=None if week_savings is None else week_savings.net,
                auto_error=realized_auto_error(week_items, confidence=policy.confidence),
                acceptance=acceptance_rate(week_items, confidence=policy.confidence),
            )
        )
    return evidence
