"""Training: how the fold deciders are fitted (in parallel threads, or one by one when wide)."""

from __future__ import annotations

import numpy as np
import pytest

from deshi.engine import training
from deshi.engine.featurize import TfidfFeaturizer
from deshi.engine.learn import Decider, LinearDecider
from deshi.engine.training import FOLDS, PARALLEL_FROM, TrainingSet


def _weights(deciders: list[Decider]) -> list[np.ndarray]:
    return [d._weights for d in deciders if isinstance(d, LinearDecider)]


def test_wide_data_is_fitted_one_decider_at_a_time_reproducibly(
    banking_rows: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [text for text, _ in banking_rows[: PARALLEL_FROM + 200]]
    labels = np.array([label for _, label in banking_rows[: len(texts)]], dtype=object)
    data = TrainingSet([str(i) for i in range(len(texts))], texts, labels, [])
    vectors = TfidfFeaturizer().fit(texts).transform(texts)
    fold = np.random.default_rng(0).permutation(len(texts)) % FOLDS
    pools: list[int] = []

    class CountedPool(training.ThreadPoolExecutor):
        def __init__(self, max_workers: int) -> None:
            pools.append(max_workers)
            super().__init__(max_workers=max_workers)

    monkeypatch.setattr(training, "ThreadPoolExecutor", CountedPool)
    monkeypatch.setattr(training, "TRAINING_THREADS", 2)
    in_parallel = _weights(training._fit_deciders(vectors, data, fold, LinearDecider))
    assert pools == [2]
    monkeypatch.setattr(training, "PARALLEL_MAX_VALUES", vectors.nnz - 1)  # now "wide"
    first = _weights(training._fit_deciders(vectors, data, fold, LinearDecider))
    again = _weights(training._fit_deciders(vectors, data, fold, LinearDecider))
    assert pools == [2]  # no thread pool for wide data

    assert len(in_parallel) == len(first) == len(again) == FOLDS + 1
    for parallel, serial, serial_again in zip(in_parallel, first, again, strict=True):
        np.testing.assert_array_equal(serial, serial_again)  # one by one: bit for bit
        # liblinear's solvers share one random generator, so threads fitted side by side draw
        # from it in a varying order; the solutions agree to the solver's tolerance.
        np.testing.assert_allclose(parallel, serial, atol=1e-3)
