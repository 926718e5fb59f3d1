"""Fakes the tests inject through deshi's extension points; nothing here is patched in.

`CentroidDecider` is a complete `deshi.engine.Decider` in a few lines: deterministic, instant to
fit, and as good as a linear model on a few well-separated labels. Service and API tests pass it
as `AgentRegistry(make_decider=CentroidDecider)` to get a certified agent from twenty reviewed
items in a fraction of a second; the engine's conformance suite runs it beside the real deciders.
Like any decider whose models are stored, it has a state and a registered kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deshi.engine.featurize import Matrix
from deshi.engine.serialize import register_kind
from deshi.engine.types import Case

__all__ = ["CHEAP_HASHING", "CentroidDecider"]

# The password-hashing profile of the tests: argon2id at tiny costs, same code paths, a hundredth
# of the time (DESHI_PASSWORD_HASH_PROFILE; production keeps "standard").
CHEAP_HASHING = "fast-insecure"


class CentroidDecider:
    """Scores each label by the dot product of a text's vector with the label's mean vector."""

    name = "centroid"

    def __init__(self) -> None:
        self.classes_: list[str] = []
        self._centroids = np.zeros((0, 0))

    def fit(self, vectors: Matrix, texts: Sequence[str], labels: Sequence[str]) -> CentroidDecider:
        self.classes_ = sorted(set(labels))
        given = np.asarray(labels, dtype=object)
        means = [
            np.asarray(vectors[np.flatnonzero(given == label)].mean(axis=0)).ravel()
            for label in self.classes_
        ]
        self._centroids = np.vstack(means) if means else np.zeros((0, vectors.shape[1]))
        return self

    def scores(
        self, vectors: Matrix, texts: Sequence[str], evidence: Sequence[Sequence[Case]]
    ) -> tuple[list[str], np.ndarray]:
        return self.classes_, np.asarray(vectors @ self._centroids.T, dtype=np.float64)

    def to_state(self) -> dict[str, Any]:
        return {"classes": list(self.classes_), "centroids": self._centroids}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CentroidDecider:
        decider = cls()
        decider.classes_ = [str(label) for label in state["classes"]]
        decider._centroids = state["centroids"]
        return decider


register_kind("centroid", CentroidDecider)
