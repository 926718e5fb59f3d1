"""The drift check of a process: do its recent live items still resemble its history?

A check reads the champion's `DriftReference` (stored with its metrics when it was trained) and
the confidence and nearest-case similarity of the process's `WINDOW` most recent live decisions
by that champion: two small queries, no model loaded. `deshi.engine.drift.assess_drift` does
the statistics (the tests, thresholds and minimum sample sizes are documented there).

When: ingest queues a check (`DRIFT_JOB`) due `CHECK_DELAY` later; ingests in the meantime join
the queued one (the job queue's dedupe key), so a busy process is checked about once a minute
and page views never compute anything: the verdict is stored in `drift_states` (one row per
process), which the early warnings read (`deshi.kpis.process_warnings`).

Once per onset: the `process.drift` webhook is queued by the check that turns the stored state
from not drifting to drifting, and `since` records that onset. Later checks that still find
drift only refresh the figures; once a check finds none, the next onset fires again. The job
writes its state and the webhook in its finishing transaction (`JobRun.finishing`), so a re-run
of the same job cannot send it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Decision, DriftState, Item, ModelVersion, Process
from deshi.domain import ItemOrigin, ModelStatus
from deshi.engine.drift import DriftFigures, DriftReference, assess_drift
from deshi.jobs.queue import enqueue
from deshi.jobs.worker import Handler, JobRun
from deshi.learning.service import DRIFT_REFERENCE
from deshi.webhooks import PROCESS_DRIFT, enqueue_event

__all__ = [
    "CHECK_DELAY",
    "DRIFT_JOB",
    "WINDOW",
    "check_drift",
    "drift_handler",
    "enqueue_drift_check",
    "live_window",
    "record_drift",
]

DRIFT_JOB = "items.drift"
WINDOW = 500  # recent live decisions: a few days of a small desk, a bounded query on a big one
CHECK_DELAY = timedelta(minutes=1)  # at most one check a minute per process, however busy


def enqueue_drift_check(session: Session, *, process_id: int, now: datetime | None = None) -> None:
    """Queue a drift check of the process due `CHECK_DELAY` from now, unless one is queued."""
    enqueue(
        session,
        kind=DRIFT_JOB,
        payload={"process_id": process_id},
        run_after=(now or utcnow()) + CHECK_DELAY,
        dedupe_key=f"drift:{process_id}",
    )


def _champion(session: Session, process_id: int) -> tuple[int, DriftReference] | None:
    """The champion's id and drift reference; None without one (or a version older than it)."""
    row = session.execute(
        select(ModelVersion.id, ModelVersion.metrics).where(
            ModelVersion.process_id == process_id, ModelVersion.status == ModelStatus.CHAMPION
        )
    ).first()
    stored = row.metrics.get(DRIFT_REFERENCE) if row is not None else None
    if row is None or not isinstance(stored, dict):
        return None
    try:
        return int(row.id), DriftReference.from_dict(stored)
    except (KeyError, TypeError, ValueError):
        return None


def live_window(
    session: Session, *, process_id: int, model_version_id: int, limit: int = WINDOW
) -> tuple[list[float], list[float]]:
    """Confidence scores and nearest-case similarities of the most recent live decisions by
    that model version (similarities only of decisions that had a case to compare with)."""
    nearest = Decision.evidence[(0, "similarity")].as_float()
    rows = session.execute(
        select(Decision.confidence, nearest)
        .join(Item, Item.id == Decision.item_id)
        .where(
            Item.process_id == process_id,
            Item.origin == ItemOrigin.LIVE.value,
            Decision.model_version_id == model_version_id,
        )
        .order_by(Decision.id.desc())
        .limit(limit)
    ).all()
    scores = [float(row[0]) for row in rows]
    similarities = [float(row[1]) for row in rows if row[1] is not None]
    return scores, similarities


def check_drift(session: Session, process: Process) -> DriftFigures | None:
    """The drift figures of the process now; None when its champion has no reference."""
    champion = _champion(session, process.id)
    if champion is None:
        return None
    version_id, reference = champion
    scores, nearest = live_window(session, process_id=process.id, model_version_id=version_id)
    return assess_drift(reference, scores, nearest)


def record_drift(
    session: Session, process: Process, figures: DriftFigures | None, *, now: datetime
) -> bool:
    """Store the check's verdict; at the onset of a drift also queue the `process.drift`
    webhook. Returns True at an onset."""
    state = session.get(DriftState, process.id)
    if state is None:
        state = DriftState(process_id=process.id, drifting=False, figures={}, checked_at=now)
        session.add(state)
    drifting = figures is not None and figures.drifting
    onset = drifting and not state.drifting
    state.figures = figures.to_dict() if figures is not None else {}
    state.checked_at = now
    state.drifting = drifting
    if onset:
        state.since = now
        enqueue_event(session, process=process, event=PROCESS_DRIFT, payload=_payload(state))
    elif not drifting:
        state.since = None
    session.flush()
    return onset


def _payload(state: DriftState) -> dict[str, Any]:
    since = state.since.isoformat() if state.since is not None else None
    return {"process_id": state.process_id, "since": since, **state.figures}


def drift_handler() -> Handler:
    """The worker's handler of `DRIFT_JOB`: check the process and store the verdict, in the
    job's finishing transaction (two small reads and one row: no long lock)."""

    def handle(run: JobRun) -> None:
        with run.finishing() as session:
            process = session.get(Process, int(run.job.payload["process_id"]))
            if process is None or process.archived_at is not None:
                return
            record_drift(session, process, check_drift(session, process), now=utcnow())

    return handle
