"""The worker's side of sending drafts without review: draft the reply of an auto-completed (or
audit-sampled) item, apply the gates of `deshi.drafting.autosend`, and send or hold it.

A job reads the item, its passages and past answers in one short read-only transaction, drafts
with no transaction open (the local model takes tens of seconds), then stores the draft, its
outcome and, when it is sent, the `draft.sent` webhook event and the `draft.send` audit event
in the job's finishing transaction: a re-run of the job cannot send twice, and a draft that
was stored is never drafted again for the same item.

"Sent" means: marked sent (`sent_at`), shown on the item (API and lineage page), and delivered
to the process's webhooks as `draft.sent` (the reply without its `[n]` markers, the text with
them, the cited passage ids). deshi itself e-mails no one: the receiving system answers the
customer, as it does with `item.completed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.audit import record_event
from deshi.db.base import utcnow
from deshi.db.tables import Item, Process, StoredDraft
from deshi.drafting.autosend import Outcome, autosend_outcome
from deshi.drafting.autosend_state import AUTOSEND_ACTOR, current_state, recertify
from deshi.drafting.core import Drafter, strip_citations
from deshi.drafting.faithfulness import FaithfulnessReport
from deshi.drafting.models import MAX_MESSAGE_CHARS, DraftRequest
from deshi.drafting.service import drafted, gather_evidence, record_draft
from deshi.jobs.worker import Handler, JobRun
from deshi.knowledge import KnowledgeIndex
from deshi.webhooks import DRAFT_SENT, enqueue_event

__all__ = ["autosend_handler", "decide_and_send"]


@dataclass(frozen=True, slots=True)
class _Candidate:
    item_id: int
    department_id: int
    text: str


def autosend_handler(drafter: Drafter, index: Callable[[], KnowledgeIndex]) -> Handler:
    """The handler of `deshi.items.autosend.DRAFT_AUTOSEND_JOB`; `index` gives the knowledge
    index (built at the first job: its embedder loads a model)."""

    def handle(run: JobRun) -> None:
        item_id, audit = int(run.job.payload["item_id"]), bool(run.job.payload.get("audit"))
        with run.reading() as session:
            candidate = _candidate(session, item_id)
            if candidate is None:
                return
            request = DraftRequest(
                department_id=candidate.department_id,
                message=candidate.text[:MAX_MESSAGE_CHARS],
                item_id=candidate.item_id,
            )
            gathered = gather_evidence(session, request=request, index=index())
        draft = drafted(drafter, gathered)
        with run.finishing() as session:
            if _already_drafted(session, item_id):
                return
            row, report = record_draft(
                session, actor=AUTOSEND_ACTOR, gathered=gathered, draft=draft, drafter=drafter
            )
            process = session.get(Process, row.process_id)
            if process is not None:
                decide_and_send(session, process=process, row=row, report=report, audit=audit)

    return handle


def _candidate(session: Session, item_id: int) -> _Candidate | None:
    """The item to draft for; None when it is gone, its process stopped auto-sending or is
    archived, or it was drafted for already."""
    item = session.get(Item, item_id)
    process = session.get(Process, item.process_id) if item is not None else None
    if item is None or process is None or process.archived_at is not None:
        return None
    if not process.draft_autosend or _already_drafted(session, item_id):
        return None
    return _Candidate(item.id, process.department_id, item.text)


def _already_drafted(session: Session, item_id: int) -> bool:
    found = session.scalar(
        select(StoredDraft.id)
        .where(StoredDraft.item_id == item_id, StoredDraft.autosend.is_not(None))
        .limit(1)
    )
    return found is not None


def decide_and_send(
    session: Session,
    *,
    process: Process,
    row: StoredDraft,
    report: FaithfulnessReport,
    audit: bool,
    now: datetime | None = None,
) -> Outcome:
    """Apply the gates to a stored draft of the process's item; send it or hold it (flushed)."""
    # never computed, or at another ε or confidence: compute it now (milliseconds; see
    # docs/benchmarks.md), rather than hold the first drafts after the switch or a new budget
    state = current_state(session, process) or recertify(session, process=process)
    outcome = autosend_outcome(
        enabled=process.draft_autosend,
        threshold=state.threshold if state else None,
        paused=bool(state and state.paused),
        score=row.score,
        report=report,
        guardrails=list(row.guardrails),
        refused=bool(row.refusals),
        audit=audit,
    )
    row.autosend = outcome.value
    if outcome is Outcome.SENT:
        _send(session, process, row, state.threshold if state else None, now or utcnow())
    session.flush()
    return outcome


def _send(
    session: Session, process: Process, row: StoredDraft, threshold: float | None, now: datetime
) -> None:
    row.sent_at = now
    item = session.get(Item, row.item_id) if row.item_id is not None else None
    enqueue_event(session, process=process, event=DRAFT_SENT, payload=_payload(row, item))
    record_event(
        session,
        actor=AUTOSEND_ACTOR,
        action="draft.send",
        obj=row,
        after={
            "department_id": row.department_id,
            "item_id": row.item_id,
            "score": row.score,
            "threshold": threshold,
        },
    )


def _payload(row: StoredDraft, item: Item | None) -> dict[str, Any]:
    return {
        "draft_id": row.id,
        "item_id": row.item_id,
        "external_id": item.external_id if item is not None else None,
        "process_id": row.process_id,
        "reply": strip_citations(row.text),
        "text": row.text,
        "citations": list(row.citations),
        "score": row.score,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }
