"""Business layer: hours and money saved against the measured human-only baseline, the cost of
errors that escaped auto-completion, net savings and ROI.

The baseline is the live human-only arm's handling times. Until that arm has enough completed
items, the handling times imported with the team's history stand in (`history_seconds`): they
were measured in the previous system, not in the workbench, so the report names which source
it used (`baseline_source`) and the live arm replaces them as soon as it can.

Intervals: hours saved uses a Welch interval on the difference of mean handling times; the
escaped-error cost uses the Clopper-Pearson interval on the audited auto-complete error. Net
savings and ROI combine the two at the extremes (low = money low - error cost high - running),
each component taken at confidence 1 - alpha/2, so by Bonferroni the combined interval covers
with probability at least 1 - alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deshi.engine.metrics import Estimate, mean_difference_welch, mean_t
from deshi.kpis.model_quality import realized_auto_error
from deshi.kpis.records import Costs, ItemRecord, KpiPolicy, by_week, weeks_spanned

__all__ = [
    "BaselineSource",
    "Savings",
    "baseline_minutes_per_item",
    "baseline_seconds",
    "escaped_error_cost",
    "escaped_errors",
    "hours_saved",
    "overall_savings",
    "savings",
    "weekly_savings",
]

SECONDS_PER_HOUR = 3600.0

BaselineSource = Literal["live", "history"]


def _human_only_seconds(items: Sequence[ItemRecord]) -> list[float]:
    return [
        item.handling_seconds for item in items if item.arm == "human_only" and item.is_completed
    ]


def _treated_seconds(items: Sequence[ItemRecord]) -> list[float]:
    return [
        item.handling_seconds for item in items if item.arm != "human_only" and item.is_completed
    ]


def baseline_seconds(
    items: Sequence[ItemRecord], history_seconds: Sequence[float] = (), *, min_items: int = 30
) -> tuple[list[float], BaselineSource | None]:
    """The human handling times savings are measured against, and their source: the live
    human-only items once there are `min_items`, else the imported history's when it has
    `min_items`, else none."""
    enough = max(min_items, 2)
    live = _human_only_seconds(items)
    if len(live) >= enough:
        return live, "live"
    if len(history_seconds) >= enough:
        return list(history_seconds), "history"
    return [], None


def baseline_minutes_per_item(
    items: Sequence[ItemRecord],
    *,
    history_seconds: Sequence[float] = (),
    min_items: int = 30,
    confidence: float = 0.95,
) -> Estimate | None:
    """Mean human minutes per item of the baseline (`baseline_seconds`, t interval); None
    while neither source has `min_items`."""
    seconds, source = baseline_seconds(items, history_seconds, min_items=min_items)
    if source is None:
        return None
    estimate = mean_t(seconds, confidence=confidence)
    return None if estimate is None else estimate.scaled(1.0 / 60.0)


def hours_saved(
    items: Sequence[ItemRecord],
    *,
    baseline_items: Sequence[ItemRecord] | None = None,
    history_seconds: Sequence[float] = (),
    min_baseline_items: int = 30,
    confidence: float = 0.95,
) -> Estimate | None:
    """Hours saved on the assisted and AI-led items versus doing them human-only.

    value = N_treated * (mean baseline seconds - mean treated seconds) / 3600, with a Welch
    interval on the difference. The baseline comes from the human-only items of
    `baseline_items` (default: `items`), or `history_seconds` while those are fewer than
    `min_baseline_items` (`baseline_seconds`); None while neither has enough.
    """
    pool = items if baseline_items is None else baseline_items
    baseline, source = baseline_seconds(pool, history_seconds, min_items=min_baseline_items)
    treated = _treated_seconds(items)
    if source is None:
        return None
    difference = mean_difference_welch(baseline, treated, confidence=confidence)
    return None if difference is None else difference.scaled(len(treated) / SECONDS_PER_HOUR)


def _auto_completed_count(items: Sequence[ItemRecord]) -> int:
    return sum(1 for item in items if item.route == "auto")


def escaped_errors(items: Sequence[ItemRecord], auto_error: Estimate | None) -> Estimate | None:
    """Estimated wrong auto-completions = auto-completed items * realized auto error.

    Exactly 0 with no auto-completed items; None when there are some but no audit estimate.
    """
    auto_count = _auto_completed_count(items)
    if auto_count == 0:
        return Estimate(0.0, 0.0, 0.0, 0)
    return None if auto_error is None else auto_error.scaled(auto_count)


def escaped_error_cost(
    items: Sequence[ItemRecord], auto_error: Estimate | None, costs: Costs
) -> Estimate | None:
    """Escaped errors * cost per escaped error."""
    errors = escaped_errors(items, auto_error)
    return None if errors is None else errors.scaled(costs.cost_per_escaped_error)


@dataclass(frozen=True, slots=True)
class Savings:
    """The business case for one period. Amounts are in `currency`; components at 1 - alpha/2."""

    currency: str
    hours_saved: Estimate
    money_saved: Estimate
    escaped_errors: Estimate
    escaped_error_cost: Estimate
    running_cost: float
    net: Estimate  # money saved - escaped error cost - running cost
    roi: Estimate | None  # net / running cost; None when running cost is 0


def _net(money: Estimate, error_cost: Estimate, running_cost: float) -> Estimate:
    return Estimate(
        money.value - error_cost.value - running_cost,
        money.low - error_cost.high - running_cost,
        money.high - error_cost.low - running_cost,
        money.n,
    )


def savings(
    items: Sequence[ItemRecord],
    costs: Costs,
    *,
    weeks: float,
    baseline_items: Sequence[ItemRecord] | None = None,
    history_seconds: Sequence[float] = (),
    min_baseline_items: int = 30,
    confidence: float = 0.95,
) -> Savings | None:
    """Net savings and ROI of `items` over `weeks` of running cost; None while unmeasurable.

    Unmeasurable means: no baseline yet, fewer than two treated items, or auto-completed items
    without any audited item to estimate their error.
    """
    component_confidence = 1.0 - (1.0 - confidence) / 2.0
    hours = hours_saved(
        items,
        baseline_items=baseline_items,
        history_seconds=history_seconds,
        min_baseline_items=min_baseline_items,
        confidence=component_confidence,
    )
    errors = escaped_errors(items, realized_auto_error(items, confidence=component_confidence))
    if hours is None or errors is None:
        return None
    money = hours.scaled(costs.hourly_rate)
    error_cost = errors.scaled(costs.cost_per_escaped_error)
    running_cost = costs.running_cost_per_week * weeks
    net = _net(money, error_cost, running_cost)
    roi = net.scaled(1.0 / running_cost) if running_cost > 0 else None
    return Savings(costs.currency, hours, money, errors, error_cost, running_cost, net, roi)


def weekly_savings(
    items: Sequence[ItemRecord], costs: Costs, policy: KpiPolicy
) -> dict[str, Savings | None]:
    """`savings` per ISO week of creation, one week of running cost each.

    The baseline is pooled over all human-only items given (a stable yardstick); the treated
    items and the audit sample are the week's own.
    """
    return {
        week: savings(
            week_items,
            costs,
            weeks=1,
            baseline_items=items,
            min_baseline_items=policy.min_baseline_items,
            confidence=policy.confidence,
        )
        for week, week_items in by_week(items).items()
    }


def overall_savings(items: Sequence[ItemRecord], costs: Costs, policy: KpiPolicy) -> Savings | None:
    """`savings` over the whole span of `items`, charged for every ISO week it covers."""
    return savings(
        items,
        costs,
        weeks=weeks_spanned(items),
        min_baseline_items=policy.min_baseline_items,
        confidence=policy.confidence,
    )
