"""Scale / hold / stop: the owner's decision rule applied to the period's evidence, with reasons.

The rule judges one period, the one the dashboard's cards show, on the same numbers
(`deshi.kpis.kpi_report` builds `Evidence` from the cards it computed, so the two cannot differ):

- **stop** when the audits break the error budget (anytime-valid, the agent monitor's own test:
  `deshi.kpis.budget`), or when net savings over the period are negative with confidence (upper
  bound < 0) after at least `weeks_required` weeks;
- **scale** when at least `weeks_required` ISO weeks were observed, net savings over the period
  are positive with confidence (lower bound > 0), the audits prove the budget, and acceptance
  meets the owner's target (point estimate ≥ target);
- **hold** otherwise, with a reason for every condition not yet met, and, when the budget is not
  proven yet, what would prove it: how many more error-free audits, how many weeks that takes at
  the current pace, and at a raised audit rate.

The budget is judged on every audit of the period at once, not week by week: a week of 5 % audits
rarely holds the hundreds of audits a 1 % budget needs, but the weeks together do. Its bounds stay
valid however often the verdict is read. Savings intervals are two-sided at the policy's
confidence, so each savings check is one-sided at level α/2: conservative on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deshi.engine.metrics import Estimate
from deshi.kpis.budget import BudgetEvidence, audit_plan, audits_to_prove
from deshi.kpis.reasons import Param, Reason
from deshi.kpis.records import KpiPolicy

__all__ = ["Action", "Evidence", "Period", "Recommendation", "recommend"]

Action = Literal["scale", "hold", "stop"]


@dataclass(frozen=True, slots=True)
class Period:
    """The ISO weeks judged: first and last (None with no item) and how many they span.
    `partial` is True when the last week had not ended when the evidence was read."""

    first_week: str | None = None
    last_week: str | None = None
    weeks: int = 0
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """The numbers the rule reads, all over `period`; None = not measurable yet.

    `audits_per_week` is the recent pace of audits (complete weeks), `audit_rate` the policy's
    share of would-be-auto items audited: together they turn missing audits into weeks."""

    period: Period
    net_savings: Estimate | None
    budget: BudgetEvidence | None
    acceptance: Estimate | None
    currency: str = ""
    audits_per_week: float = 0.0
    audit_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to do next, why, and the period judged."""

    action: Action
    reasons: tuple[Reason, ...]
    period: Period = field(default_factory=Period)


Check = tuple[bool, Reason]


def _money(value: float) -> float:
    return round(value, 2)


def _savings_check(evidence: Evidence) -> Check:
    found, currency = evidence.net_savings, evidence.currency
    if found is None:
        return False, Reason("savings_unmeasured", "Net savings cannot be measured yet.")
    params: dict[str, Param] = {
        "value": _money(found.value), "low": _money(found.low), "currency": currency,
    }  # fmt: skip
    if found.low > 0:
        message = (
            f"Net savings over the period are positive with confidence: "
            f"at least {found.low:,.2f} {currency}."
        )
        return True, Reason("savings_positive", message, params)
    message = (
        f"Net savings over the period are {found.value:,.2f} {currency} but not yet positive "
        f"with confidence (lower bound {found.low:,.2f} {currency})."
    )
    return False, Reason("savings_not_proven", message, params)


def _budget_params(budget: BudgetEvidence) -> dict[str, Param]:
    return {
        "errors": budget.errors,
        "audits": budget.audits,
        "upper_bound": round(budget.estimate.high, 4),
        "lower_bound": round(budget.estimate.low, 4),
        "budget": budget.budget,
    }


def _budget_check(evidence: Evidence) -> Check:
    budget = evidence.budget
    if budget is None:
        message = "No auto-completed item was audited yet, so the error budget cannot be judged."
        return False, Reason("budget_unmeasured", message)
    params = _budget_params(budget)
    counts = f"{budget.errors} error(s) in {budget.audits} audits"
    if budget.holds:
        message = (
            f"Auto-complete error is within budget: {counts}, "
            f"upper bound {budget.estimate.high:.2%} <= {budget.budget:.2%}."
        )
        return True, Reason("budget_holds", message, params)
    message = (
        f"Auto-complete error is not yet proven within budget: {counts}, "
        f"upper bound {budget.estimate.high:.2%} > {budget.budget:.2%}."
    )
    return False, Reason("budget_not_proven", message, params)


def _acceptance_check(evidence: Evidence, target: float) -> Check:
    found = evidence.acceptance
    if found is None:
        message = "Acceptance cannot be measured yet: no suggestion was reviewed."
        return False, Reason("acceptance_unmeasured", message)
    params: dict[str, Param] = {"value": round(found.value, 4), "target": target}
    if found.value >= target:
        message = (
            f"Acceptance over the period is {found.value:.1%}, meeting the target {target:.1%}."
        )
        return True, Reason("acceptance_met", message, params)
    message = f"Acceptance over the period is {found.value:.1%}, below the target {target:.1%}."
    return False, Reason("acceptance_below_target", message, params)


def _audits_needed(evidence: Evidence, policy: KpiPolicy) -> Reason | None:
    """What would prove the budget: more error-free audits, and how long they take."""
    budget = evidence.budget
    needed = (
        budget.audits_needed
        if budget is not None
        else audits_to_prove(0, 0, policy.error_budget, 1.0 - policy.confidence)
    )
    if needed <= 0:
        return None
    plan = audit_plan(
        needed,
        audits_per_week=evidence.audits_per_week,
        audit_rate=evidence.audit_rate,
        target_weeks=policy.weeks_required,
    )
    head = f"{needed} more error-free audits prove the budget"
    params: dict[str, Param] = {"audits": needed, "rate": evidence.audit_rate}
    if plan.weeks is None:
        message = f"{head}; no audit was drawn in recent weeks, so none will come at this pace."
        return Reason("audits_needed", message, params)
    params["weeks"] = plan.weeks
    message = (
        f"{head}; at the current audit rate ({evidence.audit_rate:.0%}) and volume "
        f"that is about {plan.weeks} week(s)"
    )
    if plan.raised_rate is not None and plan.weeks_at_raised_rate is not None:
        params |= {"raised_rate": plan.raised_rate, "raised_weeks": plan.weeks_at_raised_rate}
        message += (
            f"; raising the audit rate to {plan.raised_rate:.0%} makes it about "
            f"{plan.weeks_at_raised_rate} week(s)"
        )
    return Reason("audits_needed", message + ".", params)


def _stop_reasons(evidence: Evidence, policy: KpiPolicy) -> list[Reason]:
    reasons: list[Reason] = []
    budget = evidence.budget
    if budget is not None and budget.broken:
        message = (
            f"Error budget broken: {budget.errors} error(s) in {budget.audits} audits, "
            f"lower bound {budget.estimate.low:.2%} > {budget.budget:.2%}."
        )
        reasons.append(Reason("budget_broken", message, _budget_params(budget)))
    savings = evidence.net_savings
    enough_weeks = evidence.period.weeks >= policy.weeks_required
    if savings is not None and savings.high < 0 and enough_weeks:
        currency = evidence.currency
        message = (
            f"Net savings over the period are negative with confidence: "
            f"at most {savings.high:,.2f} {currency}."
        )
        params: dict[str, Param] = {"high": _money(savings.high), "currency": currency}
        reasons.append(Reason("savings_negative", message, params))
    return reasons


def _weeks_reason(period: Period, policy: KpiPolicy) -> Reason | None:
    if period.weeks >= policy.weeks_required:
        return None
    params: dict[str, Param] = {
        "weeks_observed": period.weeks, "weeks_required": policy.weeks_required,
    }  # fmt: skip
    if period.weeks == 0:
        message = f"No week observed yet; {policy.weeks_required} required."
    else:
        message = f"Only {period.weeks} of {policy.weeks_required} required week(s) observed."
    return Reason("not_enough_weeks", message, params)


def recommend(evidence: Evidence, policy: KpiPolicy) -> Recommendation:
    """Scale, hold or stop on the evidence of one period (see the module's docstring)."""
    period = evidence.period
    stop = _stop_reasons(evidence, policy)
    if stop:
        return Recommendation("stop", tuple(stop), period)
    checks = [
        _savings_check(evidence),
        _budget_check(evidence),
        _acceptance_check(evidence, policy.acceptance_target),
    ]
    weeks = _weeks_reason(period, policy)
    if weeks is None and all(passed for passed, _ in checks):
        return Recommendation("scale", tuple(reason for _, reason in checks), period)
    reasons = [reason for passed, reason in checks if not passed]
    if weeks is not None:
        reasons.insert(0, weeks)
    if not checks[1][0]:
        what_next = _audits_needed(evidence, policy)
        if what_next is not None:
            reasons.append(what_next)
    return Recommendation("hold", tuple(reasons), period)
