"""Interval arithmetic of deshi.engine.metrics: hand-computed cases and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ttest_ind

from deshi.engine.metrics import (
    Estimate,
    calibration_error_estimate,
    exact_count,
    expected_calibration_error,
    linear_trend,
    mean_difference_welch,
    mean_t,
    median_order_statistic,
    proportion_exact,
    proportion_wilson,
)
from deshi.engine.stats import clopper_pearson_interval, wilson_interval

SIMULATIONS = 2000


def test_estimate_rejects_a_value_outside_its_interval() -> None:
    with pytest.raises(ValueError, match="low <= value <= high"):
        Estimate(0.5, 0.6, 0.9, 10)


def test_scaling_by_a_negative_factor_swaps_the_bounds() -> None:
    assert Estimate(2.0, 1.0, 3.0, 5).scaled(-2.0) == Estimate(-4.0, -6.0, -2.0, 5)


def test_an_exact_count_has_a_zero_width_interval() -> None:
    assert exact_count(7) == Estimate(7.0, 7.0, 7.0, 7)


def test_wilson_proportion_matches_the_shared_bound() -> None:
    estimate = proportion_wilson(8, 10, confidence=0.95)
    assert estimate is not None
    assert estimate.value == pytest.approx(0.8)
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(8, 10, 0.05))
    assert estimate.n == 10


def test_exact_proportion_matches_clopper_pearson() -> None:
    estimate = proportion_exact(1, 20, confidence=0.9)
    assert estimate is not None
    assert (estimate.low, estimate.high) == pytest.approx(clopper_pearson_interval(1, 20, 0.1))


def test_a_proportion_of_nothing_is_undefined() -> None:
    assert proportion_wilson(0, 0) is None
    assert proportion_exact(0, 0) is None


def test_confidence_outside_the_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="confidence"):
        proportion_wilson(1, 2, confidence=1.0)


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_proportion_intervals_always_bracket_the_point(case: tuple[int, int]) -> None:
    successes, n = case
    for estimate in (proportion_wilson(successes, n), proportion_exact(successes, n)):
        assert estimate is not None
        assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0


def _coverage(hits: list[bool]) -> float:
    return sum(hits) / len(hits)


@pytest.mark.parametrize(("n", "p"), [(50, 0.3), (200, 0.05)])
def test_wilson_interval_covers_the_true_proportion(n: int, p: float) -> None:
    rng = np.random.default_rng(11)
    draws = rng.binomial(n, p, size=SIMULATIONS)
    hits = []
    for successes in draws:
        estimate = proportion_wilson(int(successes), n)
        assert estimate is not None
        hits.append(estimate.contains(p))
    assert _coverage(hits) >= 0.93


@pytest.mark.parametrize(("n", "p"), [(40, 0.1), (300, 0.01)])
def test_clopper_pearson_interval_covers_at_least_its_level(n: int, p: float) -> None:
    rng = np.random.default_rng(12)
    draws = rng.binomial(n, p, size=SIMULATIONS)
    hits = [proportion_exact(int(k), n).contains(p) for k in draws]  # type: ignore[union-attr]
    assert _coverage(hits) >= 0.945


def test_mean_t_hand_computed() -> None:
    estimate = mean_t([1.0, 2.0, 3.0, 4.0, 5.0])
    assert estimate is not None
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert estimate.value == pytest.approx(3.0)
    assert (estimate.low, estimate.high) == pytest.approx((3.0 - half, 3.0 + half), rel=1e-6)


def test_a_mean_needs_two_values() -> None:
    assert mean_t([4.0]) is None


def test_mean_t_interval_covers_the_true_mean() -> None:
    rng = np.random.default_rng(13)
    samples = rng.normal(10.0, 3.0, size=(SIMULATIONS, 15))
    hits = [mean_t(list(row)).contains(10.0) for row in samples]  # type: ignore[union-attr]
    assert _coverage(hits) >= 0.93


def test_welch_difference_matches_scipy() -> None:
    first, second = [1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 5.0]
    estimate = mean_difference_welch(first, second)
    reference = ttest_ind(first, second, equal_var=False).confidence_interval(0.95)
    assert estimate is not None
    assert estimate.value == pytest.approx(0.75)
    assert (estimate.low, estimate.high) == pytest.approx((reference.low, reference.high))
    assert estimate.n == 4


def test_welch_difference_of_constant_groups_is_exact() -> None:
    assert mean_difference_welch([5.0, 5.0], [2.0, 2.0, 2.0]) == Estimate(3.0, 3.0, 3.0, 3)


def test_welch_interval_covers_the_true_difference_with_unequal_spread() -> None:
    rng = np.random.default_rng(14)
    hits = []
    for _ in range(SIMULATIONS):
        first = rng.exponential(600.0, size=40)
        second = rng.exponential(150.0, size=25)
        estimate = mean_difference_welch(list(first), list(second))
        assert estimate is not None
        hits.append(estimate.contains(450.0))
    assert _coverage(hits) >= 0.92  # skewed data: t intervals are approximate


def test_median_interval_uses_order_statistics() -> None:
    values = [float(v) for v in range(1, 11)]  # ranks: Binomial(10, 1/2) gives l = 2
    assert median_order_statistic(values) == Estimate(5.5, 2.0, 9.0, 10)


def test_median_of_nothing_is_undefined() -> None:
    assert median_order_statistic([]) is None


def test_median_interval_covers_the_true_median_of_skewed_data() -> None:
    rng = np.random.default_rng(15)
    true_median = math.log(2.0)  # exponential(1)
    samples = rng.exponential(1.0, size=(SIMULATIONS, 30))
    hits = [median_order_statistic(list(row)).contains(true_median) for row in samples]  # type: ignore[union-attr]
    assert _coverage(hits) >= 0.945


def test_linear_trend_of_a_perfect_line_is_exact() -> None:
    estimate = linear_trend([0.0, 1.0, 2.0, 3.0], [0.7, 0.72, 0.74, 0.76])
    assert estimate is not None
    assert estimate.value == pytest.approx(0.02)
    assert estimate.high - estimate.low == pytest.approx(0.0, abs=1e-9)


def test_linear_trend_needs_three_distinct_points() -> None:
    assert linear_trend([0.0, 1.0], [0.5, 0.6]) is None
    assert linear_trend([1.0, 1.0, 1.0], [0.5, 0.6, 0.7]) is None


def test_linear_trend_interval_covers_the_true_slope() -> None:
    rng = np.random.default_rng(16)
    xs = [float(x) for x in range(8)]
    hits = []
    for _ in range(SIMULATIONS):
        ys = [0.6 + 0.01 * x + rng.normal(0.0, 0.02) for x in xs]
        hits.append(linear_trend(xs, ys).contains(0.01))  # type: ignore[union-attr]
    assert _coverage(hits) >= 0.93


def test_expected_calibration_error_hand_computed() -> None:
    # Bin 0.9: confidence 0.9, accuracy 0.5 -> gap 0.4; bin 0.6: confidence 0.6, accuracy 1 -> 0.4.
    ece = expected_calibration_error([0.9, 0.9, 0.6, 0.6], [True, False, True, True])
    assert ece == pytest.approx(0.4)


def test_a_perfectly_calibrated_model_has_small_calibration_error() -> None:
    rng = np.random.default_rng(17)
    confidences = rng.uniform(0.5, 1.0, size=20_000)
    correct = rng.uniform(size=20_000) < confidences
    assert expected_calibration_error(list(confidences), list(correct)) < 0.02


def test_confidence_of_one_falls_in_the_top_bin() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == pytest.approx(0.0)


def test_calibration_bootstrap_is_seeded_and_brackets_the_point() -> None:
    rng = np.random.default_rng(18)
    confidences = list(rng.uniform(0.5, 1.0, size=300))
    correct = list(rng.uniform(size=300) < 0.8)
    first = calibration_error_estimate(confidences, correct, seed=3)
    again = calibration_error_estimate(confidences, correct, seed=3)
    other = calibration_error_estimate(confidences, correct, seed=4)
    assert first is not None and other is not None
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low <= first.value <= first.high
    assert first.value == pytest.approx(expected_calibration_error(confidences, correct))


def test_calibration_error_of_nothing_is_undefined() -> None:
    assert calibration_error_estimate([], []) is None
