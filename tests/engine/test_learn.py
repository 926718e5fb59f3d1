"""The linear decider: float32 weights, the same margins as scikit-learn's, stored and restored."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from deshi.engine.featurize import make_featurizer
from deshi.engine.learn import LinearDecider

TEXTS = [
    "where is my new card",
    "my card has not arrived yet",
    "card still not delivered",
    "how do I top up by bank transfer",
    "top up with a transfer from my bank",
    "can I add money by transfer",
    "I want to close my account",
    "please delete my account",
    "how to terminate the account",
]
LABELS = ["card_arrival"] * 3 + ["top_up_by_transfer"] * 3 + ["terminate_account"] * 3


def _vectors(texts: list[str]):  # type: ignore[no-untyped-def]
    featurizer = make_featurizer("tfidf")
    featurizer.fit(texts)
    return featurizer.transform(texts)


@pytest.mark.parametrize("labels", [LABELS, LABELS[:6]], ids=["three classes", "binary"])
def test_margins_are_scikit_learns_to_float32_precision(labels: list[str]) -> None:
    texts = TEXTS[: len(labels)]
    vectors = _vectors(texts)
    decider = LinearDecider().fit(vectors, texts, labels)
    svm = LinearSVC(C=1.0, random_state=0).fit(vectors, labels)
    reference = svm.decision_function(vectors)
    if reference.ndim == 1:
        reference = np.column_stack([-reference, reference])

    classes, scores = decider.scores(vectors, texts, [() for _ in texts])

    assert classes == [str(c) for c in svm.classes_]
    assert scores.dtype == np.float64 and scores.shape == reference.shape
    np.testing.assert_allclose(scores, reference, rtol=1e-5, atol=1e-6)


def test_one_known_label_is_the_only_proposal_and_survives_storing() -> None:
    vectors = _vectors(TEXTS[:2])
    fitted = LinearDecider().fit(vectors, TEXTS[:2], ["a", "a"])
    decider = LinearDecider.from_state(fitted.to_state())

    classes, scores = decider.scores(vectors, TEXTS[:2], [(), ()])

    assert classes == ["a"] and scores.tolist() == [[1.0], [1.0]]


def test_the_weights_take_half_the_memory_of_scikit_learns() -> None:
    vectors = _vectors(TEXTS)
    decider = LinearDecider().fit(vectors, TEXTS, LABELS)
    svm = LinearSVC(C=1.0, random_state=0).fit(vectors, LABELS)
    assert decider._weights is not None
    assert decider._weights.nbytes * 2 == svm.coef_.nbytes
