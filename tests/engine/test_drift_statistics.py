"""The drift statistics: PSI against the training scores' deciles and the novel-input share,
quiet on the same distribution and below the minimum sample size, firing on a shift."""

from __future__ import annotations

import numpy as np

from deshi.engine.drift import (
    MIN_LIVE_ITEMS,
    PSI_THRESHOLD,
    SCORE_EDGES,
    DriftReference,
    assess_drift,
    population_stability_index,
)


def _reference(seed: int = 0) -> DriftReference:
    scores = np.random.default_rng(seed).beta(8, 2, size=2000)
    return DriftReference.of_scores(scores, novelty_floor=0.2)


def test_the_reference_survives_storage_and_its_shares_sum_to_one() -> None:
    reference = _reference()
    assert reference.edges == SCORE_EDGES and len(reference.shares) == len(SCORE_EDGES) + 1
    assert abs(sum(reference.shares) - 1.0) < 1e-9
    stored = DriftReference.from_dict(reference.to_dict())
    assert stored.n == reference.n and stored.edges == SCORE_EDGES


def test_the_same_scores_have_no_shift_and_an_empty_bin_stays_finite() -> None:
    reference = DriftReference.of_scores([0.999] * 80 + [0.6] * 20, novelty_floor=0.1)
    assert population_stability_index(reference, [0.999] * 80 + [0.6] * 20) < 1e-9
    assert 0 < population_stability_index(reference, [0.1] * 100) < 100


def test_windows_from_the_same_distribution_rarely_fire() -> None:
    reference, rng = _reference(), np.random.default_rng(1)
    fired = 0
    for _ in range(200):
        scores = rng.beta(8, 2, size=MIN_LIVE_ITEMS).tolist()
        # about 1 % below the floor, as the history's own leave-fold-out share
        nearest = np.where(rng.random(MIN_LIVE_ITEMS) < 0.01, 0.1, 0.5).tolist()
        fired += assess_drift(reference, scores, nearest).drifting
    assert fired <= 4  # the χ² argument in deshi.engine.drift says < 1 %; 2 % leaves room


def test_a_shifted_score_distribution_fires() -> None:
    reference, rng = _reference(), np.random.default_rng(2)
    figures = assess_drift(reference, rng.beta(2, 2, size=300).tolist(), [0.5] * 300)
    assert figures.score_shift and figures.psi is not None and figures.psi >= PSI_THRESHOLD
    assert not figures.novel_excess


def test_many_novel_inputs_fire_even_with_the_same_scores() -> None:
    reference, rng = _reference(), np.random.default_rng(3)
    nearest = [0.1] * 30 + [0.5] * 270  # 10 % below the floor against the history's 1 %
    figures = assess_drift(reference, rng.beta(8, 2, size=300).tolist(), nearest)
    assert figures.novel_excess and not figures.score_shift
    assert figures.novel_share == 0.1 and figures.novel_p_value is not None


def test_a_few_items_never_fire() -> None:
    figures = assess_drift(_reference(), [0.1] * (MIN_LIVE_ITEMS - 1), [0.0] * 99)
    assert not figures.drifting and figures.psi is None
    assert figures.to_dict()["live_items"] == MIN_LIVE_ITEMS - 1
