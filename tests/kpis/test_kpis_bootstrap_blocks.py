"""The calibration error's bootstrap, drawn a block of resamples at a time (bounded memory at
100,000 items), gives the very interval of one matrix of every resample: the same numbers, to
the last bit, whatever the block size."""

from __future__ import annotations

import numpy as np
import pytest

from deshi.engine import metrics
from deshi.engine.metrics import Estimate, calibration_error_estimate, expected_calibration_error


def _one_matrix(confidences: list[float], correct: list[bool], seed: int) -> Estimate:
    """The bootstrap as it was computed before blocks: all 1,000 resamples at once."""
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    n = len(conf)
    indices = np.random.default_rng(seed).integers(0, n, size=(1000, n), dtype=np.int64)
    stats = metrics._calibration_gaps(conf[indices], hits[indices], 10)
    alpha = 1.0 - 0.95
    low, high = (float(q) for q in np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0]))
    point = expected_calibration_error(confidences, correct)
    return Estimate(point, min(low, point), max(high, point), n)


@pytest.mark.parametrize("n", [1, 7, 333, 5001])
@pytest.mark.parametrize("block", [1, 97, 10_000, 2_000_000])
def test_blocks_of_resamples_give_the_one_matrix_interval_bit_for_bit(
    n: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(n)
    confidences = [float(c) for c in rng.uniform(0.3, 1.0, size=n)]
    correct = [bool(r < c) for r, c in zip(rng.uniform(size=n), confidences, strict=True)]
    monkeypatch.setattr(metrics, "BOOTSTRAP_BLOCK_CELLS", block)
    assert calibration_error_estimate(confidences, correct, seed=3) == _one_matrix(
        confidences, correct, seed=3
    )
