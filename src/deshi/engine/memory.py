"""Case memory: every reviewed item, searchable by similarity, effective the moment it is added."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from deshi.engine.featurize import Featurizer, Matrix
from deshi.engine.search import SimilarityIndex
from deshi.engine.types import Case


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The k nearest memory rows for each query: indices into memory and cosine similarities."""

    indices: np.ndarray  # (n_queries, k) int
    similarities: np.ndarray  # (n_queries, k) float


class CaseMemory:
    """Reviewed cases with their final labels, vectorised with the champion's featurizer.

    Vectors are kept as a base matrix (rebuilt at every retrain) plus the rows added since, searched
    separately and merged, so adding a case never re-stacks the whole memory.
    """

    def __init__(self) -> None:
        self.case_ids: list[str] = []
        self.texts: list[str] = []
        self.labels: list[str] = []
        self._featurizer: Featurizer | None = None
        self._base: SimilarityIndex | None = None
        self._recent: list[Matrix] = []
        self._recent_index: SimilarityIndex | None = None
        self._label_array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, case_id: str, text: str, label: str) -> None:
        """Remember a reviewed case; later searches see it at once."""
        self.case_ids.append(case_id)
        self.texts.append(text)
        self.labels.append(label)
        self._label_array = None
        if self._featurizer is not None:
            self._recent.append(self._featurizer.transform([text]))
            self._recent_index = None

    def rebuild(self, featurizer: Featurizer, vectors: Matrix | None = None) -> None:
        """Re-vectorise every case with a (new) featurizer; `vectors` may pass precomputed rows."""
        self._featurizer = featurizer
        base = vectors if vectors is not None else featurizer.transform(self.texts)
        self._base = SimilarityIndex(base)
        self._recent = []
        self._recent_index = None

    def search(self, queries: Matrix, k: int) -> Neighbours:
        """The k most similar remembered cases for each query row, best first."""
        n = queries.shape[0]
        if self._base is None:
            empty = np.zeros((n, 0))
            return Neighbours(empty.astype(np.int64), empty.astype(np.float32))
        indices, sims = self._base.top_k(queries, k)
        recent = self._recent_search_index()
        if recent is not None:  # merge the base's and the recent rows' candidates
            r_idx, r_sims = recent.top_k(queries, k)
            indices = np.hstack([indices, r_idx + self._base.size])
            sims = np.hstack([sims, r_sims])
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            indices = np.take_along_axis(indices, order, axis=1)
            sims = np.take_along_axis(sims, order, axis=1)
        return Neighbours(indices, sims)

    def cases(self, indices: Sequence[int], sims: Sequence[float]) -> tuple[Case, ...]:
        """Evidence objects for memory rows."""
        return tuple(
            Case(self.case_ids[i], self.texts[i], self.labels[i], round(float(s), 4))
            for i, s in zip(indices, sims, strict=True)
        )

    def label_array(self) -> np.ndarray:
        """Labels as an object array, aligned with memory rows."""
        if self._label_array is None:
            self._label_array = np.array(self.labels, dtype=object)
        return self._label_array

    def _recent_search_index(self) -> SimilarityIndex | None:
        if not self._recent:
            return None
        if self._recent_index is None:
            if sparse.issparse(self._recent[0]):
                self._recent_index = SimilarityIndex(sparse.vstack(self._recent).tocsr())
            else:
                self._recent_index = SimilarityIndex(np.vstack(self._recent))
        return self._recent_index
