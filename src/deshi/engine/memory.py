"""Case memory: every reviewed item, searchable by similarity, effective the moment it is added."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from deshi.engine.featurize import Featurizer, Matrix
from deshi.engine.search import SearchLayout, SimilarityIndex, top_k_per_row
from deshi.engine.types import Case


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The k nearest memory rows for each query: indices into memory and cosine similarities."""

    indices: np.ndarray  # (n_queries, k) int
    similarities: np.ndarray  # (n_queries, k) float


FEW_QUERIES = 16  # up to this many queries, a plain product beats indexing the recent rows


class CaseMemory:
    """Reviewed cases with their final labels, vectorised with the champion's featurizer.

    Vectors are kept as a base index (rebuilt at every retrain) plus the rows added since, searched
    separately and merged, so adding a case never re-indexes the whole memory. New rows are
    appended to the recent block in one stack per search, not one per row.
    """

    def __init__(self) -> None:
        self.case_ids: list[str] = []
        self.texts: list[str] = []
        self.labels: list[str] = []
        self._featurizer: Featurizer | None = None
        self._base: SimilarityIndex | None = None
        self._recent: Matrix | None = None
        self._pending: list[Matrix] = []
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
            self._pending.append(self._featurizer.transform([text]))

    def rebuild(
        self,
        featurizer: Featurizer,
        vectors: Matrix | None = None,
        layout: SearchLayout | None = None,
    ) -> None:
        """Re-vectorise every case with a (new) featurizer; `vectors` may pass precomputed rows,
        and `layout` the search layout stored with the featurizer's model (no SVD then)."""
        self._featurizer = featurizer
        base = vectors if vectors is not None else featurizer.transform(self.texts)
        self._base = SimilarityIndex(base, layout=layout)
        self._recent, self._pending, self._recent_index = None, [], None

    @property
    def search_layout(self) -> SearchLayout | None:
        """The base index's layout, to store with the model whose featurizer built it."""
        return self._base.layout if self._base is not None else None

    def search(self, queries: Matrix, k: int) -> Neighbours:
        """The k most similar remembered cases for each query row, best first."""
        n = queries.shape[0]
        if self._base is None:
            empty = np.zeros((n, 0))
            return Neighbours(empty.astype(np.int64), empty.astype(np.float32))
        indices, sims = self._base.top_k(queries, k)
        recent = self._search_recent(queries, k)
        if recent is not None:  # merge the base's and the recent rows' candidates
            r_idx, r_sims = recent
            indices = np.hstack([indices, r_idx + self._base.size])
            sims = np.hstack([sims, r_sims])
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            indices = np.take_along_axis(indices, order, axis=1)
            sims = np.take_along_axis(sims, order, axis=1)
        return Neighbours(indices, sims)

    def evidence(self, neighbours: Neighbours, k: int) -> list[tuple[Case, ...]]:
        """Each query's k nearest cases as evidence objects, most similar first."""
        rows = neighbours.indices[:, :k].tolist()
        sims = np.round(neighbours.similarities[:, :k].astype(np.float64), 4).tolist()
        ids, texts, labels = self.case_ids, self.texts, self.labels
        return [
            tuple(
                [Case(ids[j], texts[j], labels[j], s) for j, s in zip(row, row_sims, strict=True)]
            )
            for row, row_sims in zip(rows, sims, strict=True)
        ]

    def label_array(self) -> np.ndarray:
        """Labels as an object array, aligned with memory rows."""
        if self._label_array is None:
            self._label_array = np.array(self.labels, dtype=object)
        return self._label_array

    def _search_recent(self, queries: Matrix, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        recent = self._recent_rows()
        if recent is None:
            return None
        if queries.shape[0] <= FEW_QUERIES:
            product = queries @ recent.T
            sims = product.toarray() if sparse.issparse(product) else np.asarray(product)
            return top_k_per_row(sims.astype(np.float32), min(k, recent.shape[0]))
        if self._recent_index is None:
            self._recent_index = SimilarityIndex(recent)
        return self._recent_index.top_k(queries, k)

    def _recent_rows(self) -> Matrix | None:
        if self._pending:
            parts = [self._recent, *self._pending] if self._recent is not None else self._pending
            if sparse.issparse(parts[0]):
                self._recent = sparse.vstack(parts, format="csr")
            else:
                self._recent = np.vstack(parts)
            self._pending, self._recent_index = [], None
        return self._recent
