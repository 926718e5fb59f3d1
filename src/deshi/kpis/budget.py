"""The error budget judged on every audit to date, with bounds that stay valid however often
they are read.

The verdict is read every week on a growing audit sample, so a fixed-n interval (Clopper–Pearson)
would be wrong more often than its level says. Both bounds here are anytime-valid, as the agent's
audit monitor (`deshi.engine.policy.AuditMonitor`) is:

- **broken** ⇔ the monitor's own test rejects "error ≤ ε" at level α: the mixture likelihood
  ratio over ε < p ≤ 10ε (`log_mixture_evidence`) reaches 1/α. So the KPIs stop exactly when
  the agent suspends autopilot.
- **proven** ⇔ the mirror test rejects "error ≥ ε" at level α: the likelihood ratio mixed
  uniformly over 0 < q ≤ ε against ε. Each audit multiplies L(q)/L(ε) by q/ε or (1−q)/(1−ε),
  whose mean is ≤ 1 whenever the true error is ≥ ε, so the mixture is a test supermartingale
  and, by Ville's inequality, crosses 1/α with probability ≤ α ever.

The displayed bounds invert those tests: the upper bound is the smallest ε the audits prove,
the lower bound the largest ε they break. "N more error-free audits prove the budget" is the
smallest N for which the proof test passes, and each error-free audit can only raise its
evidence, so N is found by search on the same test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import betaln
from scipy.stats import beta

from deshi.engine.metrics import Estimate
from deshi.engine.policy import log_mixture_evidence

__all__ = [
    "MAX_SUGGESTED_AUDIT_RATE",
    "AuditPlan",
    "BudgetEvidence",
    "audit_plan",
    "audits_to_prove",
    "breaks",
    "budget_evidence",
    "log_proof_evidence",
    "lower_bound",
    "proves",
    "upper_bound",
]

MAX_SUGGESTED_AUDIT_RATE = 0.5  # beyond half of the would-be-auto items, audit is not sampling
_BISECTIONS = 60
_MAX_AUDITS = 10_000_000


def log_proof_evidence(audits: int, errors: int, budget: float) -> float:
    """log of (1/ε)∫₀^ε L(q)/L(ε) dq with L(q) = q^k (1−q)^(n−k): evidence that error < ε."""
    if audits == 0:
        return 0.0
    a, b = errors + 1.0, audits - errors + 1.0
    log_mass = float(beta.logcdf(budget, a, b))
    log_null = errors * math.log(budget) + (audits - errors) * math.log1p(-budget)
    return float(betaln(a, b)) + log_mass - math.log(budget) - log_null


def proves(audits: int, errors: int, budget: float, alpha: float) -> bool:
    """True when the audits show error < `budget` at level `alpha`, valid at any sample size."""
    return log_proof_evidence(audits, errors, budget) >= -math.log(alpha)


def breaks(audits: int, errors: int, budget: float, alpha: float) -> bool:
    """True when the audits show error > `budget` at level `alpha` (the monitor's test)."""
    return audits > 0 and log_mixture_evidence(audits, errors, budget) >= -math.log(alpha)


def upper_bound(audits: int, errors: int, alpha: float) -> float:
    """The smallest error the audits prove (1 when they prove none)."""
    if audits == 0 or errors >= audits:
        return 1.0
    low, high = errors / audits, 1.0 - 1e-9
    if not proves(audits, errors, high, alpha):
        return 1.0
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        low, high = (low, middle) if proves(audits, errors, middle, alpha) else (middle, high)
    return high


def lower_bound(audits: int, errors: int, alpha: float) -> float:
    """The largest error the audits break (0 when they break none)."""
    if audits == 0 or errors == 0:
        return 0.0
    high = min(errors / audits, 1.0 - 1e-9)
    low = high / 2
    while not breaks(audits, errors, low, alpha):  # halve down (far below, the mass underflows)
        high, low = low, low / 2
        if low < 1e-9:
            return 0.0
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        low, high = (middle, high) if breaks(audits, errors, middle, alpha) else (low, middle)
    return low


def audits_to_prove(audits: int, errors: int, budget: float, alpha: float) -> int:
    """How many more error-free audits make `proves` pass (0 when it already does)."""
    if proves(audits, errors, budget, alpha):
        return 0
    step = 1
    while not proves(audits + step, errors, budget, alpha):
        step *= 2
        if step > _MAX_AUDITS:
            return _MAX_AUDITS
    low, high = step // 2, step  # proves(high) holds, proves(low) does not (or low = 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (
            (low, middle) if proves(audits + middle, errors, budget, alpha) else (middle, high)
        )
    return high


@dataclass(frozen=True, slots=True)
class BudgetEvidence:
    """Every audit of the period against the budget: the counts, the anytime-valid bounds and the
    verdicts they give. `estimate` is errors ÷ audits with those bounds (n = audits)."""

    audits: int
    errors: int
    budget: float
    estimate: Estimate
    holds: bool
    broken: bool
    audits_needed: int  # more error-free audits that would prove the budget (0 if it holds)


def budget_evidence(
    audits: int, errors: int, *, budget: float, confidence: float
) -> BudgetEvidence | None:
    """The budget verdict of `errors` wrong answers in `audits` audits; None with no audit."""
    if audits <= 0:
        return None
    alpha = 1.0 - confidence
    rate = errors / audits
    estimate = Estimate(
        rate,
        min(rate, lower_bound(audits, errors, alpha)),
        upper_bound(audits, errors, alpha),
        audits,
    )
    holds = proves(audits, errors, budget, alpha)
    return BudgetEvidence(
        audits=audits,
        errors=errors,
        budget=budget,
        estimate=estimate,
        holds=holds,
        broken=breaks(audits, errors, budget, alpha),
        audits_needed=0 if holds else audits_to_prove(audits, errors, budget, alpha),
    )


@dataclass(frozen=True, slots=True)
class AuditPlan:
    """How long the missing audits take at the current pace, and at a raised audit rate."""

    audits_needed: int
    audits_per_week: float
    audit_rate: float
    weeks: int | None  # None: no audit is being drawn
    raised_rate: float | None  # None: the current rate is enough, or cannot usefully rise
    weeks_at_raised_rate: int | None


def audit_plan(
    audits_needed: int, *, audits_per_week: float, audit_rate: float, target_weeks: int
) -> AuditPlan:
    """Weeks to the missing audits at `audits_per_week`, and the audit rate (whole percent, at
    most `MAX_SUGGESTED_AUDIT_RATE`) that would bring them within `target_weeks`.

    Audits are a share of the would-be-auto items, so their pace scales with the rate."""
    if audits_per_week <= 0:
        return AuditPlan(audits_needed, 0.0, audit_rate, None, None, None)
    weeks = math.ceil(audits_needed / audits_per_week)
    if weeks <= target_weeks or not 0 < audit_rate < MAX_SUGGESTED_AUDIT_RATE:
        return AuditPlan(audits_needed, audits_per_week, audit_rate, weeks, None, None)
    wanted = audit_rate * audits_needed / (audits_per_week * target_weeks)
    raised = min(MAX_SUGGESTED_AUDIT_RATE, math.ceil(wanted * 100 - 1e-9) / 100)
    raised_weeks = math.ceil(audits_needed / (audits_per_week * raised / audit_rate))
    return AuditPlan(audits_needed, audits_per_week, audit_rate, weeks, raised, raised_weeks)
