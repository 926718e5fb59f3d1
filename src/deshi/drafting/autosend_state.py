"""A process's certified draft threshold and the blind audit's verdict, stored and shown.

`recertify` reads the process's scored drafts (verdicts and unjudged ones) and the verdicts on
its audit samples, applies `deshi.drafting.autosend` and stores one `draft_autosend_states`
row. It runs in the worker (`CERTIFY_JOB`), queued by every verdict on a scored draft, so the
threshold follows the evidence without a request ever computing it. Every change of the
threshold is audited as `draft.autosend_certify`, a pause as `draft.autosend_pause`, its end as
`draft.autosend_resume`. A state computed at another ε or confidence than the process's
current ones is stale: the drafting job recomputes it before sending anything
(`deshi.drafting.autosend_job`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deshi.audit import record_event
from deshi.db.base import utcnow
from deshi.db.tables import DraftAutosendState, DraftVerdict, Process, StoredDraft
from deshi.drafting.autosend import AuditVerdict, Outcome, audit_verdict, certify
from deshi.drafting.models import AutosendStatusPublic
from deshi.jobs.queue import enqueue
from deshi.jobs.worker import Handler, JobRun
from deshi.permissions import Principal
from deshi.processes.service import get_process_for

__all__ = [
    "AUTOSEND_ACTOR",
    "CERTIFY_JOB",
    "autosend_status",
    "autosend_status_for",
    "certify_handler",
    "current_state",
    "enqueue_recertify",
    "recertify",
]

CERTIFY_JOB: Final = "drafting.autosend_certify"
AUTOSEND_ACTOR: Final = "system:autosend"


def enqueue_recertify(session: Session, *, process_id: int) -> None:
    """Queue a recomputation of the process's draft threshold, unless one is queued."""
    enqueue(
        session,
        kind=CERTIFY_JOB,
        payload={"process_id": process_id},
        dedupe_key=f"draft-certify:{process_id}",
    )


def _scored_drafts(session: Session, process_id: int) -> list[Any]:
    return list(
        session.execute(
            select(StoredDraft.score, StoredDraft.verdict, StoredDraft.autosend).where(
                StoredDraft.process_id == process_id, StoredDraft.score.is_not(None)
            )
        ).all()
    )


def recertify(
    session: Session, *, process: Process, now: datetime | None = None
) -> DraftAutosendState:
    """Certify the draft threshold and judge the audit evidence at the process's ε and δ;
    store the state and audit what changed."""
    now = now or utcnow()
    rows = _scored_drafts(session, process.id)
    judged = [r for r in rows if r.verdict is not None]
    delta = 1.0 - process.confidence
    found = certify(
        [float(r.score) for r in judged],
        [r.verdict is DraftVerdict.ACCEPTED for r in judged],
        [float(r.score) for r in rows if r.verdict is None],
        epsilon=process.error_budget,
        delta=delta,
    )
    audited = [r for r in judged if r.autosend == Outcome.AUDIT_SAMPLE.value]
    errors = sum(r.verdict is not DraftVerdict.ACCEPTED for r in audited)
    audit = audit_verdict(len(audited), errors, epsilon=process.error_budget, delta=delta)
    state = session.get(DraftAutosendState, process.id)
    if state is None:
        state = DraftAutosendState(process_id=process.id, paused=False)
        session.add(state)
    before = _certified(state)
    state.threshold, state.certified_bound = found.threshold, found.bound
    state.judged, state.needed = found.judged, found.needed
    state.epsilon, state.confidence = process.error_budget, process.confidence
    state.audited, state.audit_errors = audit.audited, audit.errors
    state.computed_at = now
    if before != _certified(state):
        _audit(session, process, "draft.autosend_certify", before, _certified(state))
    if audit.pause != state.paused:
        _record_pause(session, process, state, audit, now)
    session.flush()
    return state


def _record_pause(
    session: Session,
    process: Process,
    state: DraftAutosendState,
    audit: AuditVerdict,
    now: datetime,
) -> None:
    """Pause or resume sending as the audit says, audited with the audit's figures."""
    action = "draft.autosend_pause" if audit.pause else "draft.autosend_resume"
    figures = {"audited": audit.audited, "errors": audit.errors, "bound": audit.upper_bound}
    _audit(session, process, action, {"paused": state.paused}, {"paused": audit.pause, **figures})
    state.paused, state.paused_at = audit.pause, now if audit.pause else None


def _certified(state: DraftAutosendState) -> dict[str, Any]:
    return {
        "threshold": state.threshold,
        "certified_bound": state.certified_bound,
        "epsilon": state.epsilon,
        "confidence": state.confidence,
    }


def _audit(
    session: Session, process: Process, action: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    record_event(
        session, actor=AUTOSEND_ACTOR, action=action, obj=process, before=before, after=after
    )


def current_state(session: Session, process: Process) -> DraftAutosendState | None:
    """The stored state if it was computed at the process's current ε and confidence."""
    state = session.get(DraftAutosendState, process.id)
    if state is None or state.epsilon != process.error_budget:
        return None
    return state if state.confidence == process.confidence else None


def certify_handler() -> Handler:
    """The worker's handler of `CERTIFY_JOB`: recertify in the job's finishing transaction
    (one read of the process's scored drafts, one row written)."""

    def handle(run: JobRun) -> None:
        with run.finishing() as session:
            process = session.get(Process, int(run.job.payload["process_id"]))
            if process is not None and process.archived_at is None:
                recertify(session, process=process)

    return handle


def autosend_status_for(
    session: Session, *, principal: Principal, process_id: int
) -> AutosendStatusPublic:
    """`autosend_status` for anyone with a role in the process's department."""
    return autosend_status(session, get_process_for(session, principal, process_id))


def autosend_status(session: Session, process: Process) -> AutosendStatusPublic:
    """The process's auto-send setting, certified threshold, audit evidence and counts."""
    state = current_state(session, process)
    outcomes = dict(
        session.execute(
            select(StoredDraft.autosend, func.count())
            .where(StoredDraft.process_id == process.id, StoredDraft.autosend.is_not(None))
            .group_by(StoredDraft.autosend)
        ).all()
    )
    counted = {Outcome.SENT.value, Outcome.AUDIT_SAMPLE.value}
    return AutosendStatusPublic(
        process_id=process.id,
        enabled=process.draft_autosend,
        state=_state_name(process, state),
        threshold=state.threshold if state else None,
        certified_bound=state.certified_bound if state else None,
        epsilon=process.error_budget,
        confidence=process.confidence,
        judged=state.judged if state else 0,
        needed=state.needed if state else 0,
        audited=state.audited if state else 0,
        audit_errors=state.audit_errors if state else 0,
        audit_upper_bound=_audit_bound(process, state),
        paused=bool(state and state.paused),
        paused_at=state.paused_at if state else None,
        computed_at=state.computed_at if state else None,
        sent=int(outcomes.get(Outcome.SENT.value, 0)),
        audit_samples=int(outcomes.get(Outcome.AUDIT_SAMPLE.value, 0)),
        held={str(k): int(v) for k, v in outcomes.items() if k not in counted},
    )


def _state_name(process: Process, state: DraftAutosendState | None) -> Any:
    if not process.draft_autosend:
        return "off"
    if state is not None and state.paused:
        return "paused"
    return "not_certified" if state is None or state.threshold is None else "sending"


def _audit_bound(process: Process, state: DraftAutosendState | None) -> float | None:
    if state is None or not state.audited:
        return None
    delta = 1.0 - process.confidence
    found = audit_verdict(
        state.audited, state.audit_errors, epsilon=process.error_budget, delta=delta
    )
    return found.upper_bound
