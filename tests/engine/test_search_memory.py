"""What the search keeps and builds to hold a retrain's peak memory down (issue #26) gives the
same neighbours and similarities, bit for bit, as the plain layout (exactly tied cases may come
in another order): dense-part rows kept as CSR, query chunks bounded by their number of
similarities, the hold-out memory sliced inside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from deshi.engine import search, training
from deshi.engine.featurize import Matrix, TfidfFeaturizer
from deshi.engine.search import SHORTLIST_FROM, SimilarityIndex
from deshi.engine.training import TrainingSet
from deshi.sim.dataset import load_bundled

Banking = tuple[list[str], list[str], Matrix]


def assert_same_neighbours(
    got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]
) -> None:
    """The same similarities, bit for bit, and the same cases, except that cases of exactly
    equal similarity (texts equal once punctuation and case are dropped) may come in another
    order: which comes first follows the shortlist's order, and so the last bit of the
    projection's products, which BLAS kernels round differently by matrix shape (OpenBLAS
    0.3.31 on AMD EPYC; on Intel Xeon they came out equal)."""
    (got_idx, got_sims), (want_idx, want_sims) = got, want
    np.testing.assert_array_equal(got_sims, want_sims)
    for row in range(got_idx.shape[0]):
        sims = got_sims[row]
        boundary = sims == sims[-1]  # the last tie may go on past k: its members can differ
        got_order = np.lexsort((got_idx[row], -sims))
        want_order = np.lexsort((want_idx[row], -sims))
        np.testing.assert_array_equal(
            got_idx[row][got_order][~boundary[got_order]],
            want_idx[row][want_order][~boundary[want_order]],
        )


@pytest.fixture(scope="module")
def banking() -> Banking:
    items = load_bundled("banking77").shuffled(0).items
    texts = [item.text for item in items]
    featurizer = TfidfFeaturizer().fit(texts)
    return texts, [item.label for item in items], featurizer.transform(texts)


@pytest.fixture(scope="module")
def corpus_and_queries(banking: Banking) -> tuple[Matrix, Matrix]:
    """A 10,000-row corpus (searched through a shortlist) and the other texts as queries."""
    _, _, vectors = banking
    return vectors[:10_000], vectors[10_000:]


def test_sparse_dense_part_rows_search_as_dense_ones(
    corpus_and_queries: tuple[Matrix, Matrix], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, queries = corpus_and_queries
    kept_sparse = SimilarityIndex(corpus)
    assert kept_sparse.uses_shortlist
    assert sparse.issparse(kept_sparse._rows)  # English n-grams fill few of the common columns
    monkeypatch.setattr(search, "SPARSE_ROWS_DENSITY", -1.0)  # every dense part kept dense
    kept_dense = SimilarityIndex(corpus, layout=kept_sparse.layout)
    assert isinstance(kept_dense._rows, np.ndarray)
    assert_same_neighbours(kept_sparse.top_k(queries, 10), kept_dense.top_k(queries, 10))


def test_query_chunks_are_bounded_by_their_similarities(
    corpus_and_queries: tuple[Matrix, Matrix], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, queries = corpus_and_queries
    index = SimilarityIndex(corpus)
    want = index.top_k(queries, 10)
    chunks: list[int] = []
    real_chunk = SimilarityIndex._top_k_chunk

    def counted(self, rows, k):
        chunks.append(rows.shape[0])
        return real_chunk(self, rows, k)

    monkeypatch.setattr(SimilarityIndex, "_top_k_chunk", counted)
    monkeypatch.setattr(search, "QUERY_CELLS", 100 * 10_000)  # 100 queries × 10,000 rows
    got = index.top_k(queries, 10)
    assert max(chunks) <= 100 and sum(chunks) == queries.shape[0]
    assert_same_neighbours(got, want)


def test_holdout_memory_sliced_inside_scores_as_sliced_outside(banking: Banking) -> None:
    texts, labels, _ = banking
    n = SHORTLIST_FROM + 500  # the hold-out memory is searched through a shortlist
    rows = np.array(labels[:n], dtype=object)
    data = TrainingSet([str(i) for i in range(n)], texts[:n], rows, [])
    model, vectors = training.train_model(
        data, TfidfFeaturizer(), version=1, cutoff=n, epsilon=0.05, delta=0.05, seed=0
    )
    held = np.arange(n - 300, n)
    keep = np.arange(n - 300)
    args = (vectors[held], [texts[i] for i in held], rows[held])
    sliced = training.holdout_accuracy(model, vectors[keep], rows[keep], *args)
    inside = training.holdout_accuracy(model, vectors, rows[keep], *args, train_rows=keep)
    assert inside == sliced > 0.5 * len(held)


def test_index_split_and_blockwise_projection_equal_the_whole_dense_part(
    banking: Banking, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The index splits its columns in one pass and projects its CSR rows a block at a time:
    # bit for bit what scipy's column indexing gives, and what one product of the whole dense
    # part gives to BLAS's rounding.
    _, _, vectors = banking
    monkeypatch.setattr(search, "DENSE_BLOCK", 1000)  # 9 blocks, the last of 1,003 + 1,000 rows
    corpus = vectors[:10_003]
    index = SimilarityIndex(corpus)
    common, rare = index._common, index._rare
    assert common is not None and rare is not None and index._projection is not None
    want_part = corpus[:, common].astype(np.float32)
    want_part.sort_indices()
    rows = index._rows
    assert sparse.issparse(rows)
    np.testing.assert_array_equal(rows.indptr, want_part.indptr)
    np.testing.assert_array_equal(rows.indices, want_part.indices)
    np.testing.assert_array_equal(rows.data, want_part.data)
    want_tail = corpus[:, rare].astype(np.float32).T.tocsr()
    assert index._sparse_t is not None
    np.testing.assert_array_equal(index._sparse_t.indptr, want_tail.indptr)
    np.testing.assert_array_equal(index._sparse_t.indices, want_tail.indices)
    np.testing.assert_array_equal(index._sparse_t.data, want_tail.data)
    projected = want_part.toarray() @ index._projection
    # Equal on Intel Xeon; OpenBLAS 0.3.31 on AMD EPYC rounds a block's product and the whole
    # one's differently in the last bit (at most 9e-8 here).
    np.testing.assert_allclose(index._dense_t[:, : corpus.shape[0]], projected.T, rtol=0, atol=3e-7)
