"""KPI arithmetic on plain numbers: point estimates with confidence intervals.

Every function here is pure and storage-agnostic; `deshi.kpis` applies them to item records.
An `Estimate` always carries a two-sided interval at the requested confidence. Functions
return None rather than an estimate when the data cannot define one (no observations, or too
few for the interval method), so callers must decide what "no data yet" means for them.

Interval methods, by estimator:

- proportions: Wilson score (`proportion_wilson`) or exact Clopper-Pearson (`proportion_exact`);
- means: Student t (`mean_t`); difference of two means: Welch (`mean_difference_welch`);
- medians: distribution-free order-statistic interval (`median_order_statistic`);
- slopes: ordinary least squares with a t interval (`linear_trend`);
- anything else, e.g. calibration error: seeded percentile bootstrap (`bootstrap_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, linregress
from scipy.stats import t as student_t

from deshi.engine.stats import clopper_pearson_interval, wilson_interval

__all__ = [
    "BOOTSTRAP_BLOCK_CELLS",
    "Estimate",
    "bootstrap_interval",
    "calibration_error_estimate",
    "exact_count",
    "expected_calibration_error",
    "linear_trend",
    "mean_difference_welch",
    "mean_t",
    "median_order_statistic",
    "proportion_exact",
    "proportion_wilson",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with a two-sided confidence interval and the number of observations."""

    value: float
    low: float
    high: float
    n: int

    def __post_init__(self) -> None:
        if not self.low <= self.value <= self.high:
            raise ValueError(f"need low <= value <= high: {self.low}, {self.value}, {self.high}")
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")

    def scaled(self, factor: float) -> Estimate:
        """The same estimate multiplied by a constant (a negative factor swaps the bounds)."""
        low, high = sorted((self.low * factor, self.high * factor))
        return Estimate(self.value * factor, low, high, self.n)

    def contains(self, x: float) -> bool:
        """True when x lies inside the closed interval."""
        return self.low <= x <= self.high


def _alpha(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return 1.0 - confidence


def exact_count(count: int) -> Estimate:
    """A quantity that is counted, not estimated: the interval is the point itself."""
    return Estimate(float(count), float(count), float(count), count)


def proportion_wilson(successes: int, n: int, *, confidence: float = 0.95) -> Estimate | None:
    """Share of successes with a Wilson score interval; None when n = 0."""
    if n <= 0:
        return None
    low, high = wilson_interval(successes, n, _alpha(confidence))
    value = successes / n
    return Estimate(value, min(low, value), max(high, value), n)


def proportion_exact(successes: int, n: int, *, confidence: float = 0.95) -> Estimate | None:
    """Share of successes with an exact Clopper-Pearson interval; None when n = 0."""
    if n <= 0:
        return None
    low, high = clopper_pearson_interval(successes, n, _alpha(confidence))
    value = successes / n
    return Estimate(value, min(low, value), max(high, value), n)


def mean_t(values: Sequence[float], *, confidence: float = 0.95) -> Estimate | None:
    """Sample mean with a Student t interval; None with fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    half = float(student_t.ppf(1.0 - _alpha(confidence) / 2.0, n - 1)) * _standard_error(data)
    return Estimate(mean, mean - half, mean + half, n)


def _standard_error(data: FloatArray) -> float:
    return float(data.std(ddof=1)) / math.sqrt(len(data))


def mean_difference_welch(
    first: Sequence[float], second: Sequence[float], *, confidence: float = 0.95
) -> Estimate | None:
    """mean(first) - mean(second) with a Welch t interval; None unless both have two values.

    `n` of the result is the size of `second` (the group the difference is applied to).
    """
    if len(first) < 2 or len(second) < 2:
        return None
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    var_a = float(a.var(ddof=1)) / len(a)
    var_b = float(b.var(ddof=1)) / len(b)
    difference = float(a.mean() - b.mean())
    se = math.sqrt(var_a + var_b)
    if se == 0.0:
        return Estimate(difference, difference, difference, len(b))
    dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    half = float(student_t.ppf(1.0 - _alpha(confidence) / 2.0, dof)) * se
    return Estimate(difference, difference - half, difference + half, len(b))


def median_order_statistic(values: Sequence[float], *, confidence: float = 0.95) -> Estimate | None:
    """Sample median with a distribution-free interval between two order statistics.

    The interval [x(l), x(n-l+1)] uses the Binomial(n, 1/2) count of values below the median;
    its coverage is at least `confidence` once n >= 6 and it is [min, max] below that.
    """
    n = len(values)
    if n == 0:
        return None
    ordered = sorted(values)
    lower_rank = max(1, int(binom.ppf(_alpha(confidence) / 2.0, n, 0.5)))
    median = float(np.median(ordered))
    low = min(ordered[lower_rank - 1], median)
    high = max(ordered[n - lower_rank], median)
    return Estimate(median, low, high, n)


def linear_trend(
    xs: Sequence[float], ys: Sequence[float], *, confidence: float = 0.95
) -> Estimate | None:
    """Least-squares slope of ys on xs with a t interval; None with < 3 points or constant xs."""
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length: {len(xs)} != {len(ys)}")
    n = len(xs)
    if n < 3 or len(set(xs)) < 2:
        return None
    fit = linregress(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    slope = float(fit.slope)
    half = float(student_t.ppf(1.0 - _alpha(confidence) / 2.0, n - 2)) * float(fit.stderr)
    return Estimate(slope, slope - half, slope + half, n)


BOOTSTRAP_BLOCK_CELLS = 2_000_000  # resampled indices evaluated at once (16 MB of int64)


def bootstrap_interval(
    statistic_of_resamples: Callable[[NDArray[np.int64]], FloatArray],
    n: int,
    *,
    point: float,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate | None:
    """Seeded percentile bootstrap: `statistic_of_resamples` maps a (rows x n) index matrix to
    one statistic per row. Vectorised so a thousand resamples of thousands of items stay fast.

    The resamples are drawn and evaluated a block of rows at a time (`BOOTSTRAP_BLOCK_CELLS`
    indices each): the same draws in the same order as one (resamples x n) matrix, so the same
    interval to the last bit, without holding that matrix (and its gathered copies: gigabytes
    at 100,000 items) in memory at once.
    """
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    rows = max(1, BOOTSTRAP_BLOCK_CELLS // n)
    stats = np.concatenate(
        [
            statistic_of_resamples(
                rng.integers(0, n, size=(min(rows, resamples - first), n), dtype=np.int64)
            )
            for first in range(0, resamples, rows)
        ]
    )
    alpha = _alpha(confidence)
    low, high = (float(q) for q in np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0]))
    return Estimate(point, min(low, point), max(high, point), n)


def _calibration_gaps(confidences: FloatArray, correct: FloatArray, bins: int) -> FloatArray:
    """ECE of each row of (rows x n) matrices of confidences and 0/1 correctness."""
    rows, n = confidences.shape
    bin_of = np.minimum((confidences * bins).astype(np.int64), bins - 1)
    flat = (np.arange(rows)[:, None] * bins + bin_of).ravel()
    size = rows * bins
    conf_sum = np.bincount(flat, weights=confidences.ravel(), minlength=size).reshape(rows, bins)
    hit_sum = np.bincount(flat, weights=correct.ravel(), minlength=size).reshape(rows, bins)
    gaps: FloatArray = np.abs(conf_sum - hit_sum).sum(axis=1) / n
    return gaps


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> float:
    """ECE = sum_b (n_b / n) * |accuracy_b - mean confidence_b| over equal-width confidence bins."""
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    if not confidences:
        raise ValueError("ECE needs at least one prediction")
    conf = np.asarray(confidences, dtype=np.float64)[None, :]
    hits = np.asarray(correct, dtype=np.float64)[None, :]
    return float(_calibration_gaps(conf, hits, bins)[0])


def calibration_error_estimate(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    bins: int = 10,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate | None:
    """Expected calibration error with a seeded percentile-bootstrap interval; None when empty."""
    if not confidences:
        return None
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)

    def resampled(indices: NDArray[np.int64]) -> FloatArray:
        return _calibration_gaps(conf[indices], hits[indices], bins)

    point = expected_calibration_error(confidences, correct, bins=bins)
    return bootstrap_interval(
        resampled, len(conf), point=point, confidence=confidence, resamples=resamples, seed=seed
    )
