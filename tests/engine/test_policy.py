"""The risk policy's promise, checked on synthetic scores where the true error is known."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deshi.engine.policy import (
    AuditMonitor,
    MonitorState,
    calibrate_threshold,
    effective_sizes,
    post_stratification_weights,
    smallest_certifiable_n,
)


def true_error(scores: np.ndarray, steepness: float, floor: float) -> np.ndarray:
    """P(wrong | score): falls with the score to a noise floor."""
    return floor + (0.5 - floor) * (1.0 - scores) ** steepness


def region_error(threshold: float, steepness: float, floor: float) -> float:
    """Exact error rate of scores ~ U(0, 1) in [threshold, 1]."""
    grid = np.linspace(threshold, 1.0, 20_001)
    return float(true_error(grid, steepness, floor).mean())


def simulate(seed: int, n: int, steepness: float, floor: float, audit_rate: float):
    """A stream where confident items were auto-completed and only an audit share labelled."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.0, 1.0, n)
    wrong = rng.uniform(0.0, 1.0, n) < true_error(scores, steepness, floor)
    live_threshold = rng.uniform(0.6, 0.95)  # what an earlier model auto-completed
    auto = scores >= live_threshold
    labelled = ~auto | (rng.uniform(0.0, 1.0, n) < audit_rate)
    return scores[labelled], ~wrong[labelled], scores[~labelled]


@settings(max_examples=8, deadline=None)
@given(
    steepness=st.floats(1.0, 4.0),
    floor=st.floats(0.0, 0.008),
    epsilon=st.sampled_from([0.01, 0.02, 0.05]),
    audit_rate=st.sampled_from([0.05, 0.2, 1.0]),
)
def test_threshold_error_within_budget_in_at_least_1_minus_delta_of_seeds(
    steepness: float, floor: float, epsilon: float, audit_rate: float
) -> None:
    delta, seeds, failures = 0.05, 40, 0
    for seed in range(seeds):
        lab_s, lab_c, unl_s = simulate(seed, 4_000, steepness, floor, audit_rate)
        calibration = calibrate_threshold(lab_s, lab_c, unl_s, epsilon=epsilon, delta=delta)
        if calibration.threshold is not None:
            failures += region_error(calibration.threshold, steepness, floor) > epsilon
    # With a failure rate of exactly δ, 40 seeds give 7 or more failures < 0.1% of the time.
    assert failures <= 6, f"{failures}/{seeds} thresholds broke the budget"


def test_calibration_certifies_a_large_region_when_errors_are_rare() -> None:
    lab_s, lab_c, unl_s = simulate(0, 20_000, 3.0, 0.001, 1.0)
    calibration = calibrate_threshold(lab_s, lab_c, unl_s, epsilon=0.01, delta=0.05)
    assert calibration.threshold is not None
    # The oracle (true error exactly ε) covers 41.6% here: 1 − (4 · 0.009 / 0.499) ** (1/3).
    assert 0.3 < calibration.expected_automation <= 0.416
    assert calibration.certified_error_bound is not None
    assert calibration.certified_error_bound <= 0.01


def test_no_threshold_when_even_the_best_items_are_too_often_wrong() -> None:
    lab_s, lab_c, unl_s = simulate(0, 5_000, 2.0, 0.03, 1.0)
    calibration = calibrate_threshold(lab_s, lab_c, unl_s, epsilon=0.01, delta=0.05)
    assert calibration.threshold is None
    assert calibration.expected_automation == 0.0


def test_too_few_items_cannot_be_certified() -> None:
    n = smallest_certifiable_n(0.01, 0.05 / 3) - 1
    scores = np.linspace(0.5, 1.0, n)
    calibration = calibrate_threshold(
        scores, np.ones(n, dtype=bool), np.zeros(0), epsilon=0.01, delta=0.05
    )
    assert calibration.threshold is None


def test_smallest_certifiable_n_matches_the_rule_of_three() -> None:
    assert smallest_certifiable_n(0.01, 0.05) == 299
    assert smallest_certifiable_n(0.05, 0.05) == 59


def test_effective_sizes_follow_kish_over_each_region() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    weights = np.array([4.0, 4.0, 1.0, 1.0])
    sizes = effective_sizes([0.95, 0.8, 0.6], scores, weights)
    # Equal weights count as plain items; unequal ones count less: (Σw)² / Σw².
    np.testing.assert_allclose(sizes, [0.0, 2.0, 100.0 / 34.0])


def test_sequences_start_where_the_labelled_evidence_is_large_enough() -> None:
    # 30,000 confident items of which only a 3% audit share is labelled, plus a fully reviewed
    # uncertain part. Counted in population, the first regions would hold a few dozen labelled
    # items and die at their first error; counted in labelled evidence, they hold hundreds.
    rng = np.random.default_rng(3)
    confident = rng.uniform(0.9, 1.0, 30_000)
    audited = rng.uniform(0.0, 1.0, 30_000) < 0.03
    uncertain = rng.uniform(0.0, 0.9, 5_000)
    lab_s = np.concatenate([confident[audited], uncertain])
    lab_c = np.concatenate([rng.uniform(0.0, 1.0, int(audited.sum())) >= 0.002, uncertain > 0.5])
    calibration = calibrate_threshold(lab_s, lab_c, confident[~audited], epsilon=0.01, delta=0.05)
    smallest = smallest_certifiable_n(0.01, 0.05 / 3)
    assert min(test.effective_n for test in calibration.tests) >= smallest * 0.99
    assert calibration.threshold is not None
    assert calibration.expected_automation > 0.5


def test_post_stratification_weights_restore_the_population_share_of_each_bin() -> None:
    rng = np.random.default_rng(1)
    population = rng.uniform(0.0, 1.0, 10_000)
    labelled = np.concatenate([population[population < 0.5], population[population >= 0.5][::20]])
    weights = post_stratification_weights(labelled, population)
    high = labelled >= 0.5
    share = weights[high].sum() / weights.sum()
    assert abs(share - (population >= 0.5).mean()) < 0.02
    assert np.all(weights > 0)


def test_monitor_suspends_on_strong_evidence_and_not_on_noise() -> None:
    epsilon, delta = 0.01, 0.05
    within = AuditMonitor(audited=400, errors=3)  # 0.75% observed
    assert within.state(epsilon, delta) is MonitorState.OK
    broken = AuditMonitor(audited=200, errors=9)  # 4.5% observed
    assert broken.state(epsilon, delta) is MonitorState.SUSPENDED
    worrying = AuditMonitor(audited=100, errors=4)  # evidence ratio ≈ 7: between √(1/δ) and 1/δ
    assert worrying.state(epsilon, delta) is MonitorState.AT_RISK


def test_monitor_rarely_suspends_when_the_budget_holds() -> None:
    """Ville's inequality: under error = ε the monitor ever suspends with probability ≤ δ."""
    epsilon, delta, runs, suspended = 0.01, 0.05, 300, 0
    rng = np.random.default_rng(7)
    for _ in range(runs):
        monitor = AuditMonitor()
        for wrong in rng.uniform(0, 1, 600) < epsilon:
            monitor = monitor.observe(wrong=bool(wrong))
            if monitor.state(epsilon, delta) is MonitorState.SUSPENDED:
                suspended += 1
                break
    assert suspended / runs <= delta + 0.03
