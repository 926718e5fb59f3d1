"""Tables of the knowledge base: a department's documents, their versions and passages.

A document is known by its file name within its department; every upload that changes its bytes
adds a version and makes it current, and the passages of older versions stay (a decision that
cited them keeps its lineage) but leave search: `KnowledgePassage.is_current` is true only for
the passages of a live document's current version.

Lexical search reads `tokens` (Sudachi words joined by spaces): on PostgreSQL through `tsv`,
`to_tsvector('simple', tokens)` stored when the passage is indexed (`lexical.add_to_index`),
and its GIN index below (partial: current passages only), on SQLite
through the FTS5 table `knowledge_fts`, which `deshi.knowledge.lexical` keeps beside this table
(a derived index outside the ORM metadata, so the schema comparison does not see FTS5's shadow
tables).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["KnowledgeDocument", "KnowledgePassage", "KnowledgeVersion"]


class KnowledgeDocument(Base):
    """A file of a department's knowledge base, known by its name; `current_version` 0: none."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    current_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KnowledgeVersion(Base):
    """One upload of a document: the original bytes, their sha256 and what parsing found."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("knowledge_documents.id"), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))  # hex sha256 of `source`
    media_type: Mapped[str] = mapped_column(String(16))  # pdf, docx, html, markdown, text
    language: Mapped[str] = mapped_column(String(8))  # "ja" when it holds Japanese, else "other"
    size_bytes: Mapped[int]
    pages: Mapped[int | None]  # PDF only
    passage_count: Mapped[int] = mapped_column(default=0)
    source: Mapped[bytes] = mapped_column(LargeBinary)  # the file as uploaded
    created_by: Mapped[str] = mapped_column(String(200))  # the audit actor
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnowledgePassage(Base):
    """A chunk of a version's text (whole sentences) with its place: page and/or section."""

    __tablename__ = "knowledge_passages"
    __table_args__ = (
        Index("ix_knowledge_passages_department_id_is_current", "department_id", "is_current"),
        # `text("tsv")`, not the column: the schema comparison skips an expression index on
        # SQLite (where `ddl_if` keeps it from existing) instead of reporting it missing
        Index(
            "ix_knowledge_passages_tsv",
            text("tsv"),
            postgresql_using="gin",
            postgresql_where=text("is_current"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("knowledge_versions.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("knowledge_documents.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    ordinal: Mapped[int]  # position in its version, from 0
    page: Mapped[int | None]  # 1-based PDF page
    section: Mapped[str] = mapped_column(String(500), default="")  # heading path, " › "-joined
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text)  # Sudachi words, space-joined, for lexical search
    # PostgreSQL: the tokens' tsvector, stored so matching and ranking never recompute it (an
    # expression index alone made every search re-parse the department's passages: seconds at
    # 10,000 passages, docs/benchmarks.md). SQLite: unused (NULL), FTS5 serves it.
    tsv: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), deferred=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 embedding, L2-normalised
    is_current: Mapped[bool] = mapped_column(default=True)
