"""The knowledge base's API schemas: documents, versions, passages, search hits and requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from deshi.inputs import DbId, InputModel

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TOP_K",
    "DocumentDetail",
    "DocumentPublic",
    "KnowledgeSearch",
    "PassagePublic",
    "SearchHit",
    "SearchMode",
    "StoreOutcome",
    "VersionPublic",
]

MAX_QUERY_CHARS: Final = 2000
MAX_TOP_K: Final = 50


class SearchMode(StrEnum):
    """How passages are ranked: both rankings fused (the default), or one of them alone."""

    HYBRID = "hybrid"
    LEXICAL = "lexical"  # BM25-style full-text ranking over Sudachi words
    VECTOR = "vector"  # cosine similarity of multilingual-e5-small embeddings


class VersionPublic(BaseModel):
    """One upload of a document."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    content_hash: str
    media_type: str
    language: str
    size_bytes: int
    pages: int | None
    passage_count: int
    created_by: str
    created_at: datetime


class DocumentPublic(BaseModel):
    """A document of a department's knowledge base; `current_version` 0 when it has none."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    department_id: int
    name: str
    current_version: int
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None


class PassagePublic(BaseModel):
    """A passage with its place; `url` opens the document's page at it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    document_id: int
    version: int
    ordinal: int
    page: int | None
    section: str
    text: str
    is_current: bool
    url: str
    source_url: str


class DocumentDetail(DocumentPublic):
    """A document with its versions (newest first) and the passages of the version shown."""

    versions: list[VersionPublic]
    shown_version: int
    passages: list[PassagePublic]


class StoreOutcome(BaseModel):
    """What an upload did: `changed` false when the bytes equal the current version's."""

    document: DocumentPublic
    version: int
    changed: bool
    passages: int


class SearchHit(BaseModel):
    """One passage found, best first: where it is and how it ranked.

    `score` is the fused reciprocal-rank score in hybrid mode, the full-text rank in lexical
    mode and the cosine similarity in vector mode; `lexical_rank` and `vector_rank` (1-based,
    None when outside that ranking's candidates) show why it was found.
    """

    passage_id: int
    document_id: int
    document: str
    version: int
    page: int | None
    section: str
    passage: str
    score: float
    lexical_rank: int | None
    vector_rank: int | None
    url: str
    source_url: str


class KnowledgeSearch(InputModel):
    """A search in one department's knowledge base."""

    department_id: DbId
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    mode: SearchMode = SearchMode.HYBRID
