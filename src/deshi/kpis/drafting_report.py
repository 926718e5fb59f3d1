"""A process's drafting KPIs read from its stored drafts (`deshi.kpis.drafting` does the
arithmetic). Periods are whole UTC days, as for the other KPIs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import Item, Process, StoredDraft
from deshi.kpis.context import day_start
from deshi.kpis.drafting import DraftingReport, DraftRecord, drafting_report
from deshi.kpis.records import Arm
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["drafting_report_for", "load_drafts", "process_drafting_report"]


def load_drafts(
    session: Session, process_id: int, *, start: date | None = None, end: date | None = None
) -> list[DraftRecord]:
    """The process's drafts made in [start, end] (whole UTC days), oldest first."""
    query = (
        select(StoredDraft, Item.arm)
        .outerjoin(Item, Item.id == StoredDraft.item_id)
        .where(StoredDraft.process_id == process_id)
        .order_by(StoredDraft.id)
    )
    first, after_last = day_start(start), day_start(end, after=True)
    if first is not None:
        query = query.where(StoredDraft.created_at >= first)
    if after_last is not None:
        query = query.where(StoredDraft.created_at < after_last)
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
        )
        for row, arm in session.execute(query).all()
    ]


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
