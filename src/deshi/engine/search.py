"""Exact cosine k-nearest-neighbour search over unit-length rows (sparse TF-IDF or dense vectors).

A plain sparse product `queries @ corpus.T` is slow here: character n-grams such as "e " or " t"
occur in nearly every text, so the product is almost dense, and scipy's sparse × sparse product
spends its time building it entry by entry. The index therefore splits the columns. The few common
ones (present in more than `COMMON_DF` of the corpus) are kept as a dense matrix and multiplied by
BLAS; the long tail of rare ones stays sparse, where the product is cheap. The two parts add up to
the exact cosine. Queries are processed in chunks, so memory stays bounded for any batch size.

Top-k selection ranks blocks of `BLOCK` columns by their maximum first and then sorts only the k
best blocks: every one of the k largest values lies in one of them, and a pass over block maxima
is far cheaper than partitioning whole rows.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from deshi.engine.featurize import Matrix

COMMON_DF = 0.03  # columns in more than 3% of the corpus go to the dense part
QUERY_CHUNK = 512  # rows of queries scored at once: 512 × 13k similarities ≈ 27 MB
BLOCK = 64


class SimilarityIndex:
    """A corpus laid out for repeated exact top-k cosine searches."""

    def __init__(self, corpus: Matrix) -> None:
        self.size = int(corpus.shape[0])
        # Similarity rows are laid out BLOCK-aligned (the padding scores -inf), so top-k selection
        # can view them as blocks without copying 27 MB per chunk.
        self._width = -(-self.size // BLOCK) * BLOCK
        self._common: np.ndarray | None = None
        self._rare: np.ndarray | None = None
        self._sparse_t: sparse.csr_matrix | None = None
        if sparse.issparse(corpus):
            csr = sparse.csr_matrix(corpus, dtype=np.float32)
            df = np.bincount(csr.indices, minlength=csr.shape[1])
            common = df > COMMON_DF * max(self.size, 1)
            self._common, self._rare = np.flatnonzero(common), np.flatnonzero(~common)
            self._dense_t = self._aligned(csr[:, self._common].toarray().T)
            rare_t = csr[:, self._rare].T.tocsr()
            self._sparse_t = sparse.csr_matrix(
                (rare_t.data, rare_t.indices, rare_t.indptr), shape=(len(self._rare), self._width)
            )
        else:
            self._dense_t = self._aligned(np.asarray(corpus, dtype=np.float32).T)

    def top_k(self, queries: Matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities of the k most similar corpus rows per query, best first."""
        n_query = int(queries.shape[0])
        k = min(k, self.size)
        indices = np.zeros((n_query, k), dtype=np.int64)
        sims = np.zeros((n_query, k), dtype=np.float32)
        if k == 0:
            return indices, sims
        for start in range(0, n_query, QUERY_CHUNK):
            rows = slice(start, start + QUERY_CHUNK)
            indices[rows], sims[rows] = top_k_per_row(self._similarities(queries[rows]), k)
        return indices, sims

    def _aligned(self, columns: np.ndarray) -> np.ndarray:
        out = np.zeros((columns.shape[0], self._width), dtype=np.float32)
        out[:, : self.size] = columns
        return out

    def _similarities(self, queries: Matrix) -> np.ndarray:
        """Dense (queries × aligned corpus) cosine similarities; padding columns are -inf."""
        if self._sparse_t is None:
            sims = np.asarray(np.asarray(queries, dtype=np.float32) @ self._dense_t)
        else:
            q = sparse.csr_matrix(queries, dtype=np.float32)
            sims = np.asarray(q[:, self._common].toarray() @ self._dense_t)
            sims += (q[:, self._rare] @ self._sparse_t).toarray()
        sims[:, self.size :] = -np.inf
        return sims


def top_k_per_row(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's k largest entries, largest first."""
    n_rows, n_cols = values.shape
    if n_cols > 4 * k * BLOCK:  # only then do block maxima save work
        pad = (-n_cols) % BLOCK
        padded = np.pad(values, ((0, 0), (0, pad)), constant_values=-np.inf) if pad else values
        block_max = padded.reshape(n_rows, -1, BLOCK).max(axis=2)
        blocks = np.argpartition(-block_max, k - 1, axis=1)[:, :k]
        columns = (blocks[:, :, None] * BLOCK + np.arange(BLOCK)).reshape(n_rows, -1)
        return _sorted_top(columns, np.take_along_axis(padded, columns, axis=1), k)
    columns = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    return _sorted_top(columns, values, k)


def _sorted_top(columns: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k < values.shape[1]:
        part = np.argpartition(-values, k - 1, axis=1)[:, :k]
        columns = np.take_along_axis(columns, part, axis=1)
        values = np.take_along_axis(values, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1), np.take_along_axis(values, order, axis=1)


def cosine_top_k(queries: Matrix, corpus: Matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One-off search; build a `SimilarityIndex` to search the same corpus many times."""
    return SimilarityIndex(corpus).top_k(queries, k)
