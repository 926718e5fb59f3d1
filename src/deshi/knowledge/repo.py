"""The knowledge base's SQL: documents, versions and passages, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from deshi.db.tables import KnowledgeDocument, KnowledgePassage, KnowledgeVersion

__all__ = [
    "HitRow",
    "current_passage_ids",
    "document_by_name",
    "hits_rows",
    "list_documents",
    "next_version",
    "passages_of",
    "retire_passages",
    "version_of",
    "versions_of",
]


@dataclass(frozen=True, slots=True)
class HitRow:
    """A passage found, with what a search hit shows of its document and version."""

    document_id: int
    page: int | None
    section: str
    text: str
    name: str
    version: int


def document_by_name(session: Session, department_id: int, name: str) -> KnowledgeDocument | None:
    """The department's document of this name, removed or not."""
    return session.scalars(
        select(KnowledgeDocument).where(
            KnowledgeDocument.department_id == department_id, KnowledgeDocument.name == name
        )
    ).one_or_none()


def list_documents(
    session: Session, department_ids: set[int] | None, *, include_removed: bool = False
) -> list[KnowledgeDocument]:
    """Documents of these departments (None: every one), by department and name."""
    query = select(KnowledgeDocument).order_by(
        KnowledgeDocument.department_id, KnowledgeDocument.name
    )
    if department_ids is not None:
        query = query.where(KnowledgeDocument.department_id.in_(department_ids))
    if not include_removed:
        query = query.where(KnowledgeDocument.removed_at.is_(None))
    return list(session.scalars(query))


def version_of(session: Session, document_id: int, version: int) -> KnowledgeVersion | None:
    """One version of a document."""
    return session.scalars(
        select(KnowledgeVersion).where(
            KnowledgeVersion.document_id == document_id, KnowledgeVersion.version == version
        )
    ).one_or_none()


def versions_of(session: Session, document_id: int) -> list[KnowledgeVersion]:
    """A document's versions, newest first."""
    return list(
        session.scalars(
            select(KnowledgeVersion)
            .where(KnowledgeVersion.document_id == document_id)
            .order_by(KnowledgeVersion.version.desc())
        )
    )


def next_version(session: Session, document_id: int) -> int:
    """The number the document's next version takes."""
    latest = session.scalar(
        select(func.max(KnowledgeVersion.version)).where(
            KnowledgeVersion.document_id == document_id
        )
    )
    return int(latest or 0) + 1


def passages_of(session: Session, version_id: int) -> list[KnowledgePassage]:
    """A version's passages in reading order."""
    return list(
        session.scalars(
            select(KnowledgePassage)
            .where(KnowledgePassage.version_id == version_id)
            .order_by(KnowledgePassage.ordinal)
        )
    )


def current_passage_ids(session: Session, document_id: int) -> list[int]:
    """The ids of a document's passages that search sees."""
    return list(
        session.scalars(
            select(KnowledgePassage.id).where(
                KnowledgePassage.document_id == document_id,
                KnowledgePassage.is_current.is_(True),
            )
        )
    )


def retire_passages(session: Session, passage_ids: Sequence[int]) -> None:
    """Take passages out of search; they stay for lineage."""
    if passage_ids:
        session.execute(
            update(KnowledgePassage)
            .where(KnowledgePassage.id.in_(passage_ids))
            .values(is_current=False)
        )


def hits_rows(session: Session, passage_ids: Sequence[int]) -> dict[int, HitRow]:
    """Passages with their document's name and version number, by passage id."""
    if not passage_ids:
        return {}
    rows = session.execute(
        select(
            KnowledgePassage.id,
            KnowledgePassage.document_id,
            KnowledgePassage.page,
            KnowledgePassage.section,
            KnowledgePassage.text,
            KnowledgeDocument.name,
            KnowledgeVersion.version,
        )
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgePassage.document_id)
        .join(KnowledgeVersion, KnowledgeVersion.id == KnowledgePassage.version_id)
        .where(KnowledgePassage.id.in_(passage_ids))
    ).all()
    return {
        row.id: HitRow(row.document_id, row.page, row.section, row.text, row.name, row.version)
        for row in rows
    }
