"""Deciders: the component that proposes labels. Everything around it (memory, confidence,
calibration, routing) is shared, so another decider — an LLM behind an API, say — gets the same
guarantee by implementing this small protocol."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sklearn.svm import LinearSVC

from deshi.engine.featurize import Matrix
from deshi.engine.types import Case


class Decider(Protocol):
    """Proposes labels for vectorised texts; higher scores mean more likely."""

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
    evidence) into a calibrated probability of being right.
    """

    name = "linear-svm"

    def __init__(self, *, c: float = 1.0) -> None:
        self.c = c
        self.classes_: list[str] = []
        self._svm: LinearSVC | None = None

    def fit(self, vectors: Matrix, texts: Sequence[str], labels: Sequence[str]) -> LinearDecider:
        distinct = sorted(set(labels))
        self.classes_ = distinct
        self._svm = None
        if len(distinct) >= 2:
            self._svm = LinearSVC(C=self.c)
            if len(distinct) > len(labels) / 2:  # early, sklearn warns of "a regression problem"
                with warnings.catch_warnings():  # (only then: the filters are process-global)
                    warnings.simplefilter("ignore", UserWarning)
                    self._svm.fit(vectors, list(labels))
            else:
                self._svm.fit(vectors, list(labels))
            self.classes_ = [str(c) for c in self._svm.classes_]
        return self

    def scores(
        self, vectors: Matrix, texts: Sequence[str], evidence: Sequence[Sequence[Case]]
    ) -> tuple[list[str], np.ndarray]:
        n = vectors.shape[0]
        if self._svm is None:  # a single known label: it is the only proposal
            return self.classes_, np.ones((n, len(self.classes_)))
        raw = np.asarray(self._svm.decision_function(vectors), dtype=np.float64)
        if raw.ndim == 1:  # binary SVMs return one column: the positive class's margin
            raw = np.column_stack([-raw, raw])
        return self.classes_, raw
