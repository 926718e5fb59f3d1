"""Exact and approximate binomial confidence bounds shared by the risk policy and the KPIs."""

from __future__ import annotations

import math

from scipy.stats import beta


def clopper_pearson_upper(errors: float, n: float, alpha: float) -> float:
    """One-sided upper (1 − alpha) Clopper–Pearson bound on a binomial proportion.

    Non-integer `errors`/`n` (effective counts) are accepted; n = 0 gives the vacuous bound 1.
    """
    if n <= 0:
        return 1.0
    if errors >= n:
        return 1.0
    return float(beta.ppf(1.0 - alpha, errors + 1.0, n - errors))


def clopper_pearson_lower(successes: float, n: float, alpha: float) -> float:
    """One-sided lower (1 − alpha) Clopper–Pearson bound on a binomial proportion."""
    if n <= 0 or successes <= 0:
        return 0.0
    return float(beta.ppf(alpha, successes, n - successes + 1.0))


def clopper_pearson_interval(
    successes: float, n: float, alpha: float = 0.05
) -> tuple[float, float]:
    """Two-sided (1 − alpha) Clopper–Pearson interval."""
    return (
        clopper_pearson_lower(successes, n, alpha / 2.0),
        clopper_pearson_upper(successes, n, alpha / 2.0),
    )


def wilson_interval(successes: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided Wilson score interval; (0, 1) when n = 0."""
    if n <= 0:
        return (0.0, 1.0)
    from scipy.stats import norm

    z = float(norm.ppf(1.0 - alpha / 2.0))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
