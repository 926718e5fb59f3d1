"""A process's drafting KPIs read from its stored drafts (`deshi.kpis.drafting` does the
arithmetic). Periods are whole UTC days, as for the other KPIs. Each draft is read with its
item's text and arm, and the documents of the passages it cites (for consistency)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import Item, KnowledgePassage, Process, StoredDraft
from deshi.kpis.context import day_start
from deshi.kpis.drafting import DraftingReport, DraftRecord, drafting_report
from deshi.kpis.records import Arm
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["drafting_report_for", "load_drafts", "process_drafting_report"]

_IDS_PER_QUERY: Final = 5_000  # well inside SQLite's bound-parameter limit


def load_drafts(
    session: Session, process_id: int, *, start: date | None = None, end: date | None = None
) -> list[DraftRecord]:
    """The process's drafts made in [start, end] (whole UTC days), oldest first."""
    query = (
        select(StoredDraft, Item.arm, Item.text)
        .outerjoin(Item, Item.id == StoredDraft.item_id)
        .where(StoredDraft.process_id == process_id)
        .order_by(StoredDraft.id)
    )
    first, after_last = day_start(start), day_start(end, after=True)
    if first is not None:
        query = query.where(StoredDraft.created_at >= first)
    if after_last is not None:
        query = query.where(StoredDraft.created_at < after_last)
    rows = session.execute(query).all()
    document_of = _documents_of(session, (p for row, _, _ in rows for p in row.citations))
    return [
        DraftRecord(
            created_at=row.created_at,
            sentences=row.sentences,
            supported_sentences=row.supported_sentences,
            has_unsupported_claim=row.has_unsupported_claim,
            verdict=row.verdict.value if row.verdict is not None else None,
            edit_distance=row.edit_distance,
            redactions=row.redactions,
            refusals=row.refusals,
            injection_blocks=row.injection_blocks,
            model_failures=row.model_failures,
            arm=arm,
            item_id=row.item_id,
            question=question or "",
            text=row.text,
            cited_documents=frozenset(document_of[p] for p in row.citations if p in document_of),
        )
        for row, arm, question in rows
    ]


def _documents_of(session: Session, passage_ids: Iterable[object]) -> dict[int, int]:
    """The document of each passage id (ids of passages that are gone are left out)."""
    wanted = sorted({int(p) for p in passage_ids if isinstance(p, int)})
    found: dict[int, int] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        query = select(KnowledgePassage.id, KnowledgePassage.document_id).where(
            KnowledgePassage.id.in_(chunk)
        )
        found.update({passage: document for passage, document in session.execute(query).all()})
    return found


def process_drafting_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> DraftingReport:
    """The drafting KPIs of a process over a period, at the process's confidence."""
    return drafting_report(
        load_drafts(session, process.id, start=start, end=end),
        process_id=process.id,
        arm=arm,
        confidence=process.confidence,
    )


def drafting_report_for(
    session: Session,
    principal: Principal,
    process_id: int,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> DraftingReport:
    """`process_drafting_report` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return process_drafting_report(session, process, start=start, end=end, arm=arm)
