"""Case memory: every reviewed item, searchable by similarity, effective the moment it is added."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compared by identity
class MemoryVectors:
    """A case memory's first `size` rows, vectorised by a model's featurizer, as its search
    index reads them (float32). The champion stores them, so an agent restored with it does not
    vectorise them again: on 100,000 short texts that was half of a restore.

    `digest` names the cases they are of (`cases_digest` of their ids and texts, in memory
    order); a memory whose first `size` cases differ vectorises them all. `source` gives the
    rows: for the champion of an agent, its memory's index, whose arrays are stored with the
    version, so the agent does not hold a second copy (about 1.6 KB per short text); for a
    loaded version, a function that reads that index from the file (or, from a file of format
    3, the rows)."""

    size: int
    digest: str
    source: SimilarityIndex | Callable[[], Matrix | SimilarityIndex]

    def rows(self) -> Matrix:
        """The rows, float32: CSR for a sparse featurizer, else a dense array."""
        made = self._made()
        if not isinstance(made, SimilarityIndex):
            return made
        rows = made.corpus()
        assert rows is not None  # only an index with a shortlist is a source (`stored_vectors`)
        return rows

    def index(self, layout: SearchLayout | None) -> SimilarityIndex:
        """The search index of these rows, as a memory of these cases builds it with `layout`
        (its model's): the index itself when the file stored it (format 4), or that the
        source is; else built from the rows now."""
        made = self._made()
        return made if isinstance(made, SimilarityIndex) else SimilarityIndex(made, layout=layout)

    def _made(self) -> Matrix | SimilarityIndex:
        """What the source gives: an index, or the rows a format-3 file holds."""
        return self.source if isinstance(self.source, SimilarityIndex) else self.source()


DIGEST_CHUNK = 4096  # cases hashed at once: one JSON text of all 37k Japanese ones is 44 MB


def cases_digest(case_ids: Sequence[str], texts: Sequence[str]) -> str:
    """A digest of cases' ids and texts, in order (what `MemoryVectors` were vectorised from):
    BLAKE2b-128 of the JSON texts `[ids, texts]` of each `DIGEST_CHUNK` cases, one after the
    other (ASCII JSON: any text encodes)."""
    digest = hashlib.blake2b(digest_size=16)
    for start in range(0, len(texts), DIGEST_CHUNK):
        chunk = slice(start, start + DIGEST_CHUNK)
        digest.update(json.dumps([list(case_ids[chunk]), list(texts[chunk])]).encode())
    return digest.hexdigest()


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
        self._digest: tuple[int, str] | None = None  # of the first cases, when last computed

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
        stored: MemoryVectors | None = None,
    ) -> None:
        """Re-vectorise every case with a (new) featurizer; `vectors` may pass precomputed rows,
        `layout` the search layout stored with the featurizer's model (no SVD then), and
        `stored` the rows that model stored of its memory's first cases.

        When `stored` rows are this memory's first cases, they are not vectorised again: they
        make the base index (stored as it is since format 4, so not even built), and the cases
        after them the recent block, as in the agent that stored the model once it had
        recorded those cases. Until 2026-12-06 every case went into one index, built afresh."""
        self._featurizer = featurizer
        self._recent, self._pending, self._recent_index = None, [], None
        if vectors is None and self._stored_first(stored):
            assert stored is not None
            self._base = stored.index(layout)
            if len(self.texts) > stored.size:
                self._pending.append(featurizer.transform(self.texts[stored.size :]))
            return
        base = vectors if vectors is not None else featurizer.transform(self.texts)
        self._base = SimilarityIndex(base, layout=layout)

    @property
    def search_layout(self) -> SearchLayout | None:
        """The base index's layout, to store with the model whose featurizer built it."""
        return self._base.layout if self._base is not None else None

    def stored_vectors(self) -> MemoryVectors | None:
        """The base rows, to store with the model whose featurizer vectorised them; None when
        the base is searched exactly (under SHORTLIST_FROM cases a restore vectorises them in
        a fraction of a second)."""
        base = self._base
        if base is None or not base.uses_shortlist:
            return None
        return MemoryVectors(base.size, self._first_cases_digest(base.size), base)

    def _first_cases_digest(self, n: int) -> str:
        """`cases_digest` of the first n cases (80 ms for 100,000: computed once per size)."""
        if self._digest is None or self._digest[0] != n:
            self._digest = (n, cases_digest(self.case_ids[:n], self.texts[:n]))
        return self._digest[1]

    def _stored_first(self, stored: MemoryVectors | None) -> bool:
        """Whether `stored` rows are of this memory's first cases (its digest says which)."""
        if stored is None or stored.size > len(self.texts):
            return False
        return stored.digest == self._first_cases_digest(stored.size)

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
