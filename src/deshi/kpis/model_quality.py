"""Model layer: how often the agent is right, how honest its confidence is, and the real error
of auto-completion measured on the blind audit sample."""

from __future__ import annotations

from collections.abc import Sequence

from deshi.engine.metrics import (
    Estimate,
    calibration_error_estimate,
    proportion_exact,
    proportion_wilson,
)
from deshi.kpis.records import ItemRecord

__all__ = [
    "accuracy",
    "audit_counts",
    "calibration_error",
    "error_budget_holds",
    "realized_auto_error",
]


def _judged(items: Sequence[ItemRecord]) -> list[ItemRecord]:
    """Items where both the agent's and the human's label are known."""
    return [item for item in items if item.agent_was_right is not None]


def accuracy(items: Sequence[ItemRecord], *, confidence: float = 0.95) -> Estimate | None:
    """Share of reviewed items whose agent label equals the final label (Wilson interval)."""
    judged = _judged(items)
    right = sum(1 for item in judged if item.agent_was_right)
    return proportion_wilson(right, len(judged), confidence=confidence)


def calibration_error(
    items: Sequence[ItemRecord],
    *,
    bins: int = 10,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate | None:
    """Expected calibration error on reviewed items that carry a confidence (seeded bootstrap)."""
    judged = [item for item in _judged(items) if item.confidence is not None]
    return calibration_error_estimate(
        [item.confidence for item in judged if item.confidence is not None],
        [bool(item.agent_was_right) for item in judged],
        bins=bins,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def realized_auto_error(
    items: Sequence[ItemRecord], *, confidence: float = 0.95
) -> Estimate | None:
    """Error rate of auto-completion, estimated on the blind audit sample (Clopper-Pearson).

    Audit items are a uniform random share of the items the policy would auto-complete, so their
    error rate is an unbiased estimate of the error of the auto-completed ones. (If the audit rate
    changed within the period, weight by 1 / audit rate instead; per-week estimates avoid that.)
    """
    audits, wrong = audit_counts(items)
    return proportion_exact(wrong, audits, confidence=confidence)


def audit_counts(items: Sequence[ItemRecord]) -> tuple[int, int]:
    """Audited items with both labels known, and how many of them the agent got wrong."""
    audited = [item for item in _judged(items) if item.route == "audit"]
    return len(audited), sum(1 for item in audited if not item.agent_was_right)


def error_budget_holds(auto_error: Estimate | None, error_budget: float) -> bool:
    """True when the upper bound on the realized auto-complete error is within the budget."""
    return auto_error is not None and auto_error.high <= error_budget
