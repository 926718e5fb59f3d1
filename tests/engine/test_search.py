"""Exact top-k search: the split dense/sparse index against a brute-force product."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from deshi.engine.search import BLOCK, QUERY_CHUNK, SimilarityIndex, top_k_per_row


def brute_force(queries, corpus, k):
    product = queries @ corpus.T
    sims = product.toarray() if sparse.issparse(product) else product
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def unit_rows(matrix):
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix


@pytest.mark.parametrize("n_corpus", [1, 7, 300, 5000])
def test_sparse_index_matches_brute_force(n_corpus: int) -> None:
    # A few columns in nearly every row (the dense part) and a long sparse tail.
    common = sparse.random(n_corpus + 40, 20, density=0.9, random_state=1)
    tail = sparse.random(n_corpus + 40, 3000, density=0.01, random_state=2)
    rows = unit_rows(sparse.hstack([common, tail]).tocsr())
    corpus, queries = rows[:n_corpus], rows[n_corpus:]
    got_idx, got_sims = SimilarityIndex(corpus).top_k(queries, 10)
    _, want_sims = brute_force(queries, corpus, 10)
    np.testing.assert_allclose(got_sims, want_sims, atol=1e-5)
    # The returned rows really have those similarities (ties may come in another order).
    exact = (queries @ corpus.T).toarray()
    np.testing.assert_allclose(np.take_along_axis(exact, got_idx, axis=1), got_sims, atol=1e-5)
    assert len(set(got_idx[0].tolist())) == got_idx.shape[1]


def test_dense_index_matches_brute_force_across_query_chunks() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(QUERY_CHUNK + 2000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    corpus, queries = vectors[:1500], vectors[1500:]
    got_idx, got_sims = SimilarityIndex(corpus).top_k(queries, 5)
    want_idx, want_sims = brute_force(queries, corpus, 5)
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_allclose(got_sims, want_sims, atol=1e-5)


def test_block_top_k_finds_maxima_in_any_block() -> None:
    values = np.zeros((3, 40 * BLOCK), dtype=np.float32)
    values[0, [5, 700, 2000]] = [3.0, 2.0, 1.0]
    values[1, -1] = 9.0  # in the last block
    values[2, :] = -1.0
    idx, top = top_k_per_row(values, 3)
    assert idx[0].tolist() == [5, 700, 2000]
    assert idx[1, 0] == 40 * BLOCK - 1
    assert top[2].tolist() == [-1.0, -1.0, -1.0]


def test_empty_queries_and_k_larger_than_corpus() -> None:
    corpus = sparse.csr_matrix(np.eye(3))
    idx, sims = SimilarityIndex(corpus).top_k(sparse.csr_matrix((0, 3)), 10)
    assert idx.shape == (0, 3)
    idx, sims = SimilarityIndex(corpus).top_k(corpus, 10)
    assert idx[:, 0].tolist() == [0, 1, 2]
    np.testing.assert_allclose(sims[:, 0], 1.0)
