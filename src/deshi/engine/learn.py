"""Deciders: the component that proposes labels. Everything around it (memory, confidence,
calibration, routing) is shared, so another decider — an LLM behind an API, say — gets the same
guarantee by implementing this small protocol."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.svm import LinearSVC

from deshi.engine.featurize import Matrix
from deshi.engine.types import Case


class Decider(Protocol):
    """Proposes labels for vectorised texts; higher scores mean more likely.

    To be stored in a model version, a decider also has `to_state()`/`from_state()` and a kind
    registered with `deshi.engine.serialize.register_kind` (docs/engine.md, "Stored models").
    """

    name: str

    def fit(self, vectors: Matrix, texts: Sequence[str], labels: Sequence[str]) -> Decider:
        """Learn from labelled items (training fits separate instances in parallel threads)."""
        ...

    def scores(
        self, vectors: Matrix, texts: Sequence[str], evidence: Sequence[Sequence[Case]]
    ) -> tuple[list[str], np.ndarray]:
        """Return (classes, scores) with one row per text and one column per class."""
        ...


class LinearDecider:
    """A one-vs-rest linear SVM: fast on sparse n-grams and a good ranker of its own certainty.

    Its raw margins are not probabilities; the confidence model turns them (with the case memory's
    evidence) into a calibrated probability of being right. Only the weights are kept, in float32:
    half the memory of scikit-learn's float64 (a retrain holds six deciders at once, 40 MB each
    in float64 on long contract clauses), with margins within 1e-5 of scikit-learn's.
    """

    name = "linear-svm"

    def __init__(self, *, c: float = 1.0) -> None:
        self.c = c
        self.classes_: list[str] = []
        # (features, classes) float32, C-ordered: `vectors @ weights` then needs no copy of them.
        self._weights: np.ndarray | None = None  # None: one class
        self._intercept: np.ndarray | None = None

    def fit(self, vectors: Matrix, texts: Sequence[str], labels: Sequence[str]) -> LinearDecider:
        distinct = sorted(set(labels))
        self.classes_ = distinct
        self._weights = self._intercept = None
        if len(distinct) >= 2:
            svm = LinearSVC(C=self.c, random_state=0)  # same data, same weights (one at a time)
            if len(distinct) > len(labels) / 2:  # early, sklearn warns of "a regression problem"
                with warnings.catch_warnings():  # (only then: the filters are process-global)
                    warnings.simplefilter("ignore", UserWarning)
                    svm.fit(vectors, list(labels))
            else:
                svm.fit(vectors, list(labels))
            self._keep_weights(svm)
        return self

    def scores(
        self, vectors: Matrix, texts: Sequence[str], evidence: Sequence[Sequence[Case]]
    ) -> tuple[list[str], np.ndarray]:
        n = vectors.shape[0]
        if self._weights is None or self._intercept is None:  # a single known label
            return self.classes_, np.ones((n, len(self.classes_)))
        # float32 on both sides: a mixed product would copy the weights to float64 every call.
        raw = np.asarray(vectors.astype(np.float32, copy=False) @ self._weights, dtype=np.float64)
        raw += self._intercept
        if raw.shape[1] == 1:  # binary SVMs have one row of weights: the positive class's
            raw = np.column_stack([-raw[:, 0], raw[:, 0]])
        return self.classes_, raw

    def _keep_weights(self, svm: LinearSVC) -> None:
        self.classes_ = [str(c) for c in svm.classes_]
        self._weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        self._intercept = np.asarray(svm.intercept_, dtype=np.float32)

    def to_state(self) -> dict[str, Any]:
        """C, the classes, and the float32 weights and intercepts (None with one class)."""
        return {
            "c": self.c,
            "classes": list(self.classes_),
            "weights": self._weights,
            "intercept": self._intercept,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearDecider:
        """The decider `to_state` describes; it scores exactly as the original did."""
        decider = cls(c=state["c"])
        decider.classes_ = [str(label) for label in state["classes"]]
        decider._weights, decider._intercept = state["weights"], state["intercept"]
        return decider
