"""Training: how the fold deciders are fitted (in parallel threads, or one by one when wide)."""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Sequence

import numpy as np
import pytest

from deshi.engine import search, training
from deshi.engine.featurize import TfidfFeaturizer
from deshi.engine.learn import Decider, LinearDecider
from deshi.engine.search import SHORTLIST_FROM
from deshi.engine.training import FOLDS, PARALLEL_FROM, Parallelism, TrainingSet

TWO_THREADS = Parallelism(threads=2)


def _weights(
    vectors, data: TrainingSet, fold: np.ndarray, parallelism: Parallelism, threads: int
) -> list[np.ndarray]:
    with training._Deciders(vectors, data, fold, LinearDecider, parallelism) as deciders:
        assert deciders.threads == threads
        fitted: list[Decider] = [deciders.for_fold(f) for f in range(FOLDS)] + [deciders.final()]
    return [d._weights for d in fitted if isinstance(d, LinearDecider)]


def test_the_thread_count_follows_the_configuration_and_the_data_size() -> None:
    assert Parallelism(threads=3).threads_for(PARALLEL_FROM, 10) == 3
    assert Parallelism(threads=3).threads_for(PARALLEL_FROM - 1, 10) == 1  # small: one by one
    assert Parallelism(threads=3, max_values=9).threads_for(PARALLEL_FROM, 10) == 1  # wide
    assert Parallelism(threads=1).threads_for(PARALLEL_FROM, 10) == 1
    assert Parallelism().threads_for(PARALLEL_FROM, 10) == (os.cpu_count() or 1)


def test_wide_data_is_fitted_one_decider_at_a_time_reproducibly(
    banking_rows: list[tuple[str, str]],
) -> None:
    texts = [text for text, _ in banking_rows[: PARALLEL_FROM + 200]]
    labels = np.array([label for _, label in banking_rows[: len(texts)]], dtype=object)
    data = TrainingSet([str(i) for i in range(len(texts))], texts, labels, [])
    vectors = TfidfFeaturizer().fit(texts).transform(texts)
    fold = np.random.default_rng(0).permutation(len(texts)) % FOLDS
    in_parallel = _weights(vectors, data, fold, TWO_THREADS, threads=2)
    wide = Parallelism(threads=2, max_values=vectors.nnz - 1)
    first = _weights(vectors, data, fold, wide, threads=1)  # no threads for wide data
    again = _weights(vectors, data, fold, wide, threads=1)

    assert len(in_parallel) == len(first) == len(again) == FOLDS + 1
    for parallel, serial, serial_again in zip(in_parallel, first, again, strict=True):
        np.testing.assert_array_equal(serial, serial_again)  # one by one: bit for bit
        # liblinear's solvers share one random generator, so threads fitted side by side draw
        # from it in a varying order; the solutions agree to the solver's tolerance.
        np.testing.assert_allclose(parallel, serial, atol=1e-3)


@pytest.mark.parametrize("wide", [True, False])
def test_deciders_are_dropped_once_their_fold_is_scored(
    banking_rows: list[tuple[str, str]], wide: bool
) -> None:
    # Each fold's decider is wanted when its fold is scored and dropped after it; the final one
    # comes last. One by one (wide data), no decider fitted before is alive when the next starts
    # fitting; in two threads, at most two are: the one being scored and the other fit running.
    rows = banking_rows[: PARALLEL_FROM + 100]
    n = PARALLEL_FROM
    data = TrainingSet(
        [str(i) for i in range(n)],
        [text for text, _ in rows[:n]],
        np.array([label for _, label in rows[:n]], dtype=object),
        [text for text, _ in rows[n:]],  # auto-completed items, scored fold by fold
    )
    parallelism = Parallelism(threads=2, max_values=0) if wide else TWO_THREADS
    alive: list[weakref.ref[Decider]] = []
    alive_at_fit: list[int] = []

    class Tracked(LinearDecider):
        def fit(self, vectors, texts: Sequence[str], labels: Sequence[str]) -> LinearDecider:
            gc.collect()
            alive_at_fit.append(sum(ref() is not None for ref in alive))
            alive.append(weakref.ref(self))
            return super().fit(vectors, texts, labels)

    model, _ = training.train_model(
        data, TfidfFeaturizer(), version=1, cutoff=len(rows), epsilon=0.01, delta=0.05, seed=0,
        make_decider=Tracked, parallelism=parallelism,
    )  # fmt: skip
    assert len(alive_at_fit) == FOLDS + 1
    if wide:
        assert alive_at_fit == [0] * (FOLDS + 1)
    else:  # fitting all six up front, as before, had four or five alive at the last fits
        assert max(alive_at_fit) <= 2
    assert isinstance(model.deciders[0], Tracked)
    assert len(model.calibration_data.unlabelled_scores) == 100


def test_a_retrain_computes_one_search_layout_for_every_index_it_builds(
    banking_rows: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each fold's index of its training rows, the challenger's hold-out search and the installed
    # case memory once ran a truncated SVD each: 7 a retrain, most of the demo's retrain time.
    shapes: list[tuple[int, int]] = []
    real_svd = search.randomized_svd

    def counted_svd(matrix: np.ndarray, *args: object, **kwargs: object) -> object:
        shapes.append(matrix.shape)
        return real_svd(matrix, *args, **kwargs)

    monkeypatch.setattr(search, "randomized_svd", counted_svd)
    n = SHORTLIST_FROM * FOLDS // (FOLDS - 1) + 200  # each fold trains on more than SHORTLIST_FROM
    rows, held = banking_rows[:n], banking_rows[n : n + 300]
    labels = np.array([label for _, label in rows], dtype=object)
    data = TrainingSet([str(i) for i in range(n)], [text for text, _ in rows], labels, [])
    model, vectors = training.train_model(
        data, TfidfFeaturizer(), version=1, cutoff=n, epsilon=0.05, delta=0.05, seed=0
    )
    held_texts = [text for text, _ in held]
    correct = training.holdout_accuracy(
        model,
        vectors,
        labels,
        model.featurizer.transform(held_texts),
        held_texts,
        np.array([label for _, label in held], dtype=object),
    )

    assert shapes == [(n, shapes[0][1])]  # one SVD, of all the labelled rows
    assert model.search_layout is not None and model.search_layout.fits(vectors)
    assert correct > 0.8 * len(held)  # the searches through the shared layout still find cases
