"""Process inventory: rank candidate processes by expected yearly savings and give each a
90-day plan with exit criteria.

Formulas (also in docs/kpis.md):

    expected automation share = (1 - exception rate) * conservative factor      (default 0.5)
    expected yearly hours     = monthly volume * 12 * minutes per item / 60 * automation share
    expected yearly savings   = expected yearly hours * hourly rate
    priority score            = expected yearly savings * measurability / 5

Ranking is by priority score: a process whose value cannot be measured cannot be proven.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deshi.kpis.reasons import Param, Reason
from deshi.kpis.records import KpiPolicy

__all__ = [
    "CandidateProcess",
    "PlanPhase",
    "RankedProcess",
    "audits_to_prove_budget",
    "expected_automation_share",
    "expected_yearly_savings",
    "ninety_day_plan",
    "rank_processes",
]

PhaseName = Literal["design", "limited_production", "scale"]


@dataclass(frozen=True, slots=True)
class CandidateProcess:
    """A back-office task someone proposes to hand to an agent."""

    name: str
    monthly_volume: float
    minutes_per_item: float
    exception_rate: float  # share of items that need a human whatever the model does
    measurability: int  # 1 (no data on outcomes) .. 5 (every outcome recorded)
    hourly_rate: float

    def __post_init__(self) -> None:
        if min(self.monthly_volume, self.minutes_per_item, self.hourly_rate) < 0:
            raise ValueError(f"{self.name}: volume, minutes and rate must be >= 0")
        if not 0.0 <= self.exception_rate <= 1.0:
            raise ValueError(f"{self.name}: exception_rate must be in [0, 1]")
        if self.measurability not in range(1, 6):
            raise ValueError(f"{self.name}: measurability must be 1..5")


@dataclass(frozen=True, slots=True)
class PlanPhase:
    """One stage of the 90-day plan: days [start_day, end_day] and what must be true to move on."""

    name: PhaseName
    start_day: int
    end_day: int
    exit_criteria: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class RankedProcess:
    """A candidate with its expected value, priority and plan; rank 1 goes first."""

    rank: int
    candidate: CandidateProcess
    expected_automation_share: float
    expected_yearly_hours: float
    expected_yearly_savings: float
    priority_score: float
    plan: tuple[PlanPhase, ...]


def expected_automation_share(exception_rate: float, conservative_factor: float = 0.5) -> float:
    """(1 - exception rate) * conservative factor: the share we plan on, not the best case."""
    return (1.0 - exception_rate) * conservative_factor


def _expected_yearly_hours(candidate: CandidateProcess, conservative_factor: float) -> float:
    share = expected_automation_share(candidate.exception_rate, conservative_factor)
    return candidate.monthly_volume * 12 * candidate.minutes_per_item / 60.0 * share


def expected_yearly_savings(candidate: CandidateProcess, conservative_factor: float = 0.5) -> float:
    """volume * 12 * minutes / 60 * hourly rate * expected automation share."""
    return _expected_yearly_hours(candidate, conservative_factor) * candidate.hourly_rate


def audits_to_prove_budget(error_budget: float, confidence: float) -> int:
    """Fewest error-free audits whose Clopper-Pearson upper bound (at alpha/2) is <= the budget.

    With zero errors the bound is 1 - (alpha/2)^(1/n), so n >= ln(alpha/2) / ln(1 - budget).
    """
    return math.ceil(math.log((1.0 - confidence) / 2.0) / math.log(1.0 - error_budget))


def _criterion(code: str, message: str, **params: Param) -> Reason:
    return Reason(code, message, params)


def _design_criteria(policy: KpiPolicy) -> tuple[Reason, ...]:
    n = policy.min_baseline_items
    return (
        _criterion("owner_named", "An owner is named and accountable for the numbers."),
        _criterion(
            "baseline_measured",
            f"Human-only minutes per item measured on at least {n} items.",
            min_items=n,
        ),
        _criterion(
            "error_budget_set",
            f"The owner set an error budget ({policy.error_budget:.1%}) and an acceptance "
            f"target ({policy.acceptance_target:.0%}).",
            budget=policy.error_budget,
            acceptance_target=policy.acceptance_target,
        ),
        _criterion("shadow_accuracy_measured", "Shadow-mode accuracy measured on reviewed items."),
    )


def _limited_production_criteria(policy: KpiPolicy) -> tuple[Reason, ...]:
    audits = audits_to_prove_budget(policy.error_budget, policy.confidence)
    weeks = policy.weeks_required
    return (
        _criterion(
            "budget_holds",
            f"Upper bound on the audited auto-complete error <= {policy.error_budget:.1%} "
            f"(needs at least {audits} audited items even with no error).",
            budget=policy.error_budget,
            min_audits=audits,
        ),
        _criterion(
            "acceptance_met",
            f"Acceptance >= {policy.acceptance_target:.0%} for {weeks} consecutive week(s).",
            target=policy.acceptance_target,
            weeks=weeks,
        ),
        _criterion("backlog_stable", "The review backlog did not grow two weeks in a row."),
    )


def _scale_criteria(policy: KpiPolicy, expected_yearly: float) -> tuple[Reason, ...]:
    monthly_target = round(expected_yearly / 12.0 / 2.0, 2)
    return (
        _criterion(
            "savings_positive",
            f"Net savings positive with confidence for {policy.weeks_required} week(s).",
            weeks=policy.weeks_required,
        ),
        _criterion(
            "savings_on_track",
            f"Net savings run at >= {monthly_target:,.2f} per month (half the expected).",
            monthly_target=monthly_target,
        ),
        _criterion("no_critical_warning", "No critical early warning is open."),
    )


def ninety_day_plan(
    expected_yearly: float, policy: KpiPolicy | None = None
) -> tuple[PlanPhase, ...]:
    """Design (days 0-14), limited production (15-45), scale (46-90), each with exit criteria."""
    rules = policy or KpiPolicy()
    return (
        PlanPhase("design", 0, 14, _design_criteria(rules)),
        PlanPhase("limited_production", 15, 45, _limited_production_criteria(rules)),
        PlanPhase("scale", 46, 90, _scale_criteria(rules, expected_yearly)),
    )


def rank_processes(
    candidates: Sequence[CandidateProcess],
    *,
    conservative_factor: float = 0.5,
    policy: KpiPolicy | None = None,
) -> list[RankedProcess]:
    """Candidates by priority score (ties: higher savings, then name), each with its plan."""
    if not 0.0 < conservative_factor <= 1.0:
        raise ValueError(f"conservative_factor must be in (0, 1], got {conservative_factor}")
    scored = []
    for candidate in candidates:
        savings = expected_yearly_savings(candidate, conservative_factor)
        score = savings * candidate.measurability / 5.0
        scored.append((candidate, savings, score))
    scored.sort(key=lambda row: (-row[2], -row[1], row[0].name))
    return [
        RankedProcess(
            rank=position,
            candidate=candidate,
            expected_automation_share=expected_automation_share(
                candidate.exception_rate, conservative_factor
            ),
            expected_yearly_hours=_expected_yearly_hours(candidate, conservative_factor),
            expected_yearly_savings=savings,
            priority_score=score,
            plan=ninety_day_plan(savings, policy),
        )
        for position, (candidate, savings, score) in enumerate(scored, start=1)
    ]
