"""A process's drafting KPIs read from its stored drafts (`deshi.kpis.drafting` does the
arithmetic). Periods are whole UTC days, as for the other KPIs. Each draft is read with its
item's text and arm, and the documents of the passages it cites (for consistency).

The report is kept in the KPI cache (`deshi.kpis.cache`): computing it takes ~1 s at 10,000
drafts, and most views repeat the last one. The cache's watermark covers the process's items and
settings, not its drafts, so the fingerprint's `extra` adds what a draft's row changes: the
process's drafts (count, newest id), their verdicts (count, newest time: an edit is a verdict)
and the newest time one was sent. A passage's document never changes (passages are only added
and retired), and an item's text and arm are written with the item, which the watermark sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deshi.db.tables import Item, KnowledgePassage, Process, StoredDraft
from deshi.kpis.cache import cached_model, fingerprint
from deshi.kpis.context import day_start
from deshi.kpis.drafting import DraftingReport, DraftRecord, drafting_report
from deshi.kpis.drafting_agreement import PARAPHRASE_SIMILARITY
from deshi.kpis.records import Arm
from deshi.kpis.refresh import Deferral, KpiRead, KpiRefresher
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = [
    "drafting_report_for",
    "fresh_drafting_report",
    "load_drafts",
    "process_drafting_report",
]

_IDS_PER_QUERY: Final = 5_000  # well inside SQLite's bound-parameter limit


def load_drafts(
    session: Session, process_id: int, *, start: date | None = None, end: date | None = None
) -> list[DraftRecord]:
    """The process's drafted replies made in [start, end] (whole UTC days), oldest first.

    Values drafted for the process's fields (`deshi.processes.draft_fields`) are left out: a
    value is not a reply to the item's question, and beside the item's reply it would count as
    the same question answered differently."""
    query = (
        select(StoredDraft, Item.arm, Item.text)
        .outerjoin(Item, Item.id == StoredDraft.item_id)
        .where(StoredDraft.process_id == process_id, StoredDraft.field.is_(None))
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
            vector=row.vector,
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


def _draft_figures(session: Session, process_id: int) -> tuple[object, ...]:
    """What changes when a reply of the process is drafted, judged (an edit too) or sent."""
    query = select(
        func.count(StoredDraft.id),
        func.max(StoredDraft.id),
        func.count(StoredDraft.verdict_at),
        func.max(StoredDraft.verdict_at),
        func.max(StoredDraft.sent_at),
    ).where(StoredDraft.process_id == process_id, StoredDraft.field.is_(None))
    return tuple(session.execute(query).one())


def process_drafting_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
    refresher: KpiRefresher | None = None,
) -> DraftingReport:
    """The drafting KPIs of a process over a period, at the process's confidence, read from
    the KPI cache when neither the process nor its drafts changed since they were computed.
    With a `refresher`, a stale stored report that was slow to compute is served while it is
    recomputed in the background (`deshi.kpis.refresh`)."""
    key = f"drafting|{start}|{end}|{arm}"
    # the threshold too: a release that moves it must not serve reports made with the old one
    extra = (_draft_figures(session, process.id), PARAPHRASE_SIMILARITY)
    again = KpiRead("drafting", process.id, key, start=start, end=end, arm=arm)
    return cached_model(
        session,
        process.id,
        key,
        fingerprint(session, process, extra=extra),
        lambda: fresh_drafting_report(session, process, start=start, end=end, arm=arm),
        DraftingReport,
        deferral=None if refresher is None else Deferral(refresher, again),
    ).value


def fresh_drafting_report(
    session: Session,
    process: Process,
    *,
    start: date | None = None,
    end: date | None = None,
    arm: Arm | None = None,
) -> DraftingReport:
    """The drafting KPIs of a process over a period, computed from its drafts."""
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
    refresher: KpiRefresher | None = None,
) -> DraftingReport:
    """`process_drafting_report` for a principal who may read the process."""
    process = get_process_for(session, principal, process_id, Action.READ)
    return process_drafting_report(
        session, process, start=start, end=end, arm=arm, refresher=refresher
    )
