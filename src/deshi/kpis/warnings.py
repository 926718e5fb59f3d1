"""Early warnings: each is a small function of plain inputs returning an `EarlyWarning` or None.

The class is called `EarlyWarning`, not `Warning`, so it never shadows Python's built-in
`Warning` in the modules that import it. `collect` keeps the ones that fired.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import Literal

from scipy.stats import norm

from deshi.engine.metrics import Estimate
from deshi.kpis.budget import BudgetEvidence
from deshi.kpis.reasons import Param

__all__ = [
    "EarlyWarning",
    "Severity",
    "autopilot_suspended",
    "backlog_growing",
    "collect",
    "error_budget_at_risk",
    "feedback_falling",
    "input_drift",
    "no_baseline",
    "no_owner",
    "quality_drift",
    "stage_overdue",
]

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """Something the owner should look at before it becomes a problem."""

    code: str
    severity: Severity
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)


def collect(*candidates: EarlyWarning | None) -> list[EarlyWarning]:
    """The warnings that fired, most severe first."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    fired = [candidate for candidate in candidates if candidate is not None]
    return sorted(fired, key=lambda warning: rank[warning.severity])


def no_owner(owner: str | None) -> EarlyWarning | None:
    """A process nobody owns has nobody to act on its numbers."""
    if owner:
        return None
    return EarlyWarning("no_owner", "warning", "The process has no owner.")


def no_baseline(
    process_created_at: datetime,
    now: datetime,
    baseline: Estimate | None,
    *,
    grace_days: int = 14,
) -> EarlyWarning | None:
    """No measured human-only baseline `grace_days` after creation: savings cannot be shown."""
    age_days = (now - process_created_at).total_seconds() / 86400.0
    if baseline is not None or age_days < grace_days:
        return None
    message = f"No human-only baseline after {int(age_days)} days; savings cannot be measured."
    return EarlyWarning("no_baseline", "warning", message, {"days": int(age_days)})


def stage_overdue(stage: str, planned_end: date | None, today: date) -> EarlyWarning | None:
    """The current stage ran past its planned end date."""
    if planned_end is None or today <= planned_end:
        return None
    late = (today - planned_end).days
    message = f"Stage '{stage}' is {late} day(s) past its planned end ({planned_end.isoformat()})."
    params: dict[str, Param] = {"stage": stage, "days_late": late, "planned_end": str(planned_end)}
    return EarlyWarning("stage_overdue", "warning", message, params)


def _rose_each_week(series: Sequence[float], weeks: int) -> bool:
    tail = series[-(weeks + 1) :]
    return len(tail) == weeks + 1 and all(b > a for a, b in pairwise(tail))


def backlog_growing(weekly_backlog: Sequence[int], *, weeks: int = 2) -> EarlyWarning | None:
    """The review backlog (open items at each week's end) grew in each of the last `weeks` weeks."""
    if not _rose_each_week(weekly_backlog, weeks):
        return None
    start, end = weekly_backlog[-(weeks + 1)], weekly_backlog[-1]
    message = f"The review backlog grew for {weeks} weeks in a row ({start} to {end} open items)."
    params: dict[str, Param] = {"weeks": weeks, "from": start, "to": end}
    return EarlyWarning("backlog_growing", "warning", message, params)


def feedback_falling(
    weekly_reviews: Sequence[int], *, weeks: int = 2, min_drop: float = 0.2
) -> EarlyWarning | None:
    """Reviews per week fell in each of the last `weeks` weeks, by at least `min_drop` overall."""
    falling = _rose_each_week([-count for count in weekly_reviews], weeks)
    if not falling:
        return None
    start, end = weekly_reviews[-(weeks + 1)], weekly_reviews[-1]
    if end > (1.0 - min_drop) * start:
        return None
    message = (
        f"Feedback is drying up: reviews per week fell from {start} to {end} over {weeks} weeks."
    )
    params: dict[str, Param] = {"weeks": weeks, "from": start, "to": end}
    return EarlyWarning("feedback_falling", "warning", message, params)


def _drop_z(reference: Estimate, recent: Estimate) -> float:
    """One-sided two-proportion z statistic for reference > recent (0 when undefined)."""
    pooled = (reference.value * reference.n + recent.value * recent.n) / (reference.n + recent.n)
    variance = pooled * (1.0 - pooled) * (1.0 / reference.n + 1.0 / recent.n)
    if variance <= 0.0:
        return 0.0
    return (reference.value - recent.value) / math.sqrt(variance)


def quality_drift(
    metric: str,
    reference: Estimate | None,
    recent: Estimate | None,
    *,
    confidence: float = 0.95,
) -> EarlyWarning | None:
    """A proportion (acceptance, accuracy) fell from `reference` to `recent` beyond chance.

    Fires when a one-sided two-proportion z-test rejects "no drop" at level 1 - confidence.
    """
    if reference is None or recent is None or reference.n == 0 or recent.n == 0:
        return None
    z = _drop_z(reference, recent)
    if z <= float(norm.ppf(confidence)):
        return None
    message = f"{metric.capitalize()} fell from {reference.value:.1%} to {recent.value:.1%}."
    params: dict[str, Param] = {
        "metric": metric,
        "from": round(reference.value, 4),
        "to": round(recent.value, 4),
        "z": round(z, 2),
    }
    return EarlyWarning(f"{metric}_drift", "warning", message, params)


def error_budget_at_risk(
    auto_error: Estimate | None,
    error_budget: float,
    *,
    risk_share: float = 0.8,
    period: BudgetEvidence | None = None,
) -> EarlyWarning | None:
    """Critical when the budget is broken; a warning when `auto_error`'s point estimate reached
    `risk_share` of the budget.

    Broken is decided by `period`, every audit to date under the recommendation's anytime-valid
    test, when it is given (so the warning and the "stop" verdict always agree); without it, by
    `auto_error`'s lower bound above the budget."""
    if period is not None and period.broken:
        return _budget_broken(period.estimate, error_budget)
    if auto_error is None:
        return None
    if period is None and auto_error.low > error_budget:
        return _budget_broken(auto_error, error_budget)
    if auto_error.value >= risk_share * error_budget:
        message = (
            f"Error budget at risk: auto-complete error {auto_error.value:.2%} "
            f"against a budget of {error_budget:.2%}."
        )
        return EarlyWarning(
            "error_budget_at_risk", "warning", message, _params(auto_error, error_budget)
        )
    return None


def _params(auto_error: Estimate, error_budget: float) -> dict[str, Param]:
    return {
        "error": round(auto_error.value, 4),
        "lower_bound": round(auto_error.low, 4),
        "budget": error_budget,
    }


def _budget_broken(auto_error: Estimate, error_budget: float) -> EarlyWarning:
    message = (
        f"Error budget broken: auto-complete error is at least {auto_error.low:.2%} "
        f"(budget {error_budget:.2%})."
    )
    return EarlyWarning(
        "error_budget_broken", "critical", message, _params(auto_error, error_budget)
    )


def autopilot_suspended(
    suspended: bool, *, reason: str | None = None, since: datetime | None = None
) -> EarlyWarning | None:
    """The risk monitor paused auto-completion: every item now goes to people."""
    if not suspended:
        return None
    params: dict[str, Param] = {"reason": reason or "", "since": since.isoformat() if since else ""}
    why = f" ({reason})" if reason else ""
    message = f"Autopilot is suspended{why}; all items go to human review."
    return EarlyWarning("autopilot_suspended", "critical", message, params)


def _number(figures: Mapping[str, object], key: str) -> float | None:
    value = figures.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def input_drift(figures: Mapping[str, object] | None) -> EarlyWarning | None:
    """Live items stopped resembling the history (the drift check's stored figures,
    deshi.items.drift): the error guarantee assumes they do."""
    if not figures or figures.get("drifting") is not True:
        return None
    keys = ("live_items", "psi", "psi_threshold", "novel_share", "novel_expected")
    items, psi, threshold, novel, expected = (_number(figures, key) for key in keys)
    if items is None or psi is None or threshold is None or novel is None or expected is None:
        return None
    params: dict[str, Param] = {
        "items": int(items),
        "psi": f"{psi:.2f}",
        "psi_threshold": f"{threshold:.2f}",
        "novel": novel,
        "expected": expected,
    }
    message = (
        f"Live items no longer resemble the history (last {int(items)} items): score shift "
        f"PSI {psi:.2f} (alarm at {threshold:.2f}), novel inputs {novel:.1%} (history "
        f"{expected:.1%}). The error guarantee assumes they do; the audit monitor keeps watching."
    )
    return EarlyWarning("input_drift", "warning", message, params)
