"""Dense ranking: passage embeddings stored as float32 bytes, searched with numpy in memory.

Neither database needs an extension (SQLite here cannot load one; Debian's PostgreSQL has no
pgvector package): each passage's vector is a BLOB/bytea, and a department's current vectors
are loaded into one matrix and kept in a `VectorCache`, keyed by the database and department and
checked against a fingerprint of the department's current passage ids (count, sum and max):
passages are never deleted or edited, only added and retired, and an added passage's id is
newer than any it retires, so every committed change moves the fingerprint and the matrix is
reloaded on the next search (in any worker process: nothing is shared but the database).

`KnowledgeIndex` is what the services take: the embedder and the cache. The app holds one
(`app.state.knowledge`); the CLI and the benchmark make their own. Tests pass an embedder of
their own through it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deshi.db.tables import KnowledgePassage
from deshi.engine.multilingual import shared_embedder

__all__ = ["Embedder", "KnowledgeIndex", "VectorCache", "from_bytes", "to_bytes"]

_CACHED_DEPARTMENTS: Final = 32


class Embedder(Protocol):
    """Texts to L2-normalised float32 rows (`deshi.engine.multilingual.MultilingualEmbedder`)."""

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed search queries."""
        ...

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed passages to be searched."""
        ...


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    """A vector as stored: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> NDArray[np.float32]:
    """A stored vector."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


@dataclass(frozen=True, slots=True)
class _Matrix:
    fingerprint: tuple[int, int, int]
    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]


class VectorCache:
    """The current passage vectors of the most recently searched departments."""

    def __init__(self, max_departments: int = _CACHED_DEPARTMENTS) -> None:
        self._max = max_departments
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], _Matrix] = OrderedDict()

    def matrix(
        self, session: Session, department_id: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """(passage ids, their vectors as rows) of the department's current passages."""
        key = (session.get_bind().engine.url.render_as_string(), department_id)
        fingerprint = _fingerprint(session, department_id)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached.fingerprint == fingerprint:
                self._entries.move_to_end(key)
                return cached.ids, cached.vectors
        loaded = _load(session, department_id, fingerprint)
        with self._lock:
            self._entries[key] = loaded
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return loaded.ids, loaded.vectors


@dataclass
class KnowledgeIndex:
    """The embedder passages and queries go through, and the cache of stored vectors."""

    embedder: Embedder = field(default_factory=shared_embedder)
    vectors: VectorCache = field(default_factory=VectorCache)


def _fingerprint(session: Session, department_id: int) -> tuple[int, int, int]:
    row = session.execute(
        select(
            func.count(KnowledgePassage.id),
            func.coalesce(func.sum(KnowledgePassage.id), 0),
            func.coalesce(func.max(KnowledgePassage.id), 0),
        ).where(
            KnowledgePassage.department_id == department_id,
            KnowledgePassage.is_current.is_(True),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _load(session: Session, department_id: int, fingerprint: tuple[int, int, int]) -> _Matrix:
    rows = session.execute(
        select(KnowledgePassage.id, KnowledgePassage.vector)
        .where(
            KnowledgePassage.department_id == department_id,
            KnowledgePassage.is_current.is_(True),
        )
        .order_by(KnowledgePassage.id)
    ).all()
    ids = np.fromiter((row.id for row in rows), dtype=np.int64, count=len(rows))
    if rows:
        vectors = np.vstack([from_bytes(row.vector) for row in rows])
    else:
        vectors = np.zeros((0, 0), dtype=np.float32)
    return _Matrix(fingerprint, ids, vectors)
