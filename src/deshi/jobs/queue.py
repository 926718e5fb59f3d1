"""The durable job queue on the `jobs` table: enqueue, claim with a lease, finish or retry.

A job is claimed by setting `status=running`, `locked_by` and `locked_until` (the lease) and
counting an attempt. The worker renews the lease while the job runs (`renew`), so a long job
keeps it; a worker that crashes stops renewing, and once `locked_until` passes the job is
claimable again. Finishing is conditional on still holding the lease (`locked_by` matches and
status is running), and a handler's own database writes share the transaction of that
conditional update, so a job whose lease was lost commits nothing: its effects are applied
exactly once. Side effects outside the database (webhook POSTs) are at-least-once.

Claiming: PostgreSQL selects a due row `FOR UPDATE SKIP LOCKED` so concurrent workers never
wait on or take the same row; SQLite (one writer at a time) uses a conditional UPDATE that
only succeeds if the row is still claimable.

Time: each function that reads the clock takes `now` (default: the current UTC time), so the
worker passes its clock's time (`deshi.jobs.clock`) and tests pass a fake one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Job, JobStatus

__all__ = [
    "DEFAULT_LEASE",
    "MAX_ATTEMPTS",
    "ClaimedJob",
    "LeaseLostError",
    "backoff",
    "claim",
    "enqueue",
    "finish",
    "release",
    "renew",
    "retry_or_fail",
]

DEFAULT_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=10)
_KEY = "_key"  # payload entry holding a dedupe key


class LeaseLostError(Exception):
    """The worker no longer holds the job's lease (it expired and another worker took it)."""


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds the lease on."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    worker: str


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed tries: 2s, 4s, 8s, … capped at 10 min."""
    delay: timedelta = BACKOFF_BASE * 2 ** max(attempts - 1, 0)
    return min(delay, BACKOFF_CAP)


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any] | None = None,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Queue a job in the caller's transaction, due at `run_after` (default: now); with
    `dedupe_key`, return the already queued job with the same kind and key instead of adding a
    second one."""
    body = dict(payload or {})
    if dedupe_key is not None:
        body[_KEY] = dedupe_key
        existing = session.scalars(
            select(Job)
            .where(
                Job.kind == kind,
                Job.status == JobStatus.QUEUED,
                Job.payload[_KEY].as_string() == dedupe_key,
            )
            .limit(1)
        ).first()
        if existing is not None:
            return existing
    job = Job(kind=kind, payload=body, status=JobStatus.QUEUED, run_after=run_after or utcnow())
    session.add(job)
    session.flush()
    return job


def _claimable(now: datetime) -> Any:
    queued = and_(Job.status == JobStatus.QUEUED, Job.run_after <= now)
    expired = and_(Job.status == JobStatus.RUNNING, Job.locked_until < now)
    return or_(queued, expired)


def claim(
    session: Session,
    *,
    worker: str,
    kinds: frozenset[str] | None = None,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> ClaimedJob | None:
    """Take the oldest job due at `now` (or one whose lease expired by then); the caller commits
    the claim."""
    now = now or utcnow()
    query = select(Job.id).where(_claimable(now)).order_by(Job.run_after, Job.id).limit(1)
    if kinds is not None:
        query = query.where(Job.kind.in_(sorted(kinds)))
    postgres = session.get_bind().dialect.name == "postgresql"
    for _ in range(5):  # SQLite: another worker may win the row between select and update
        job_id = session.scalar(query.with_for_update(skip_locked=True) if postgres else query)
        if job_id is None:
            return None
        row = session.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                status=JobStatus.RUNNING,
                locked_by=worker,
                locked_until=now + lease,
                attempts=Job.attempts + 1,
            )
            .returning(Job.kind, Job.payload, Job.attempts)
            .execution_options(synchronize_session=False)
        ).first()
        if row is not None:
            return ClaimedJob(job_id, row.kind, dict(row.payload), row.attempts, worker)
    return None


def renew(
    session: Session,
    job: ClaimedJob,
    lease: timedelta = DEFAULT_LEASE,
    *,
    now: datetime | None = None,
) -> bool:
    """Extend the lease to `lease` from now; False when this worker no longer holds the job."""
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == job.worker, Job.status == JobStatus.RUNNING)
        .values(locked_until=(now or utcnow()) + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _release(session: Session, job: ClaimedJob, **values: Any) -> None:
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == job.worker, Job.status == JobStatus.RUNNING)
        .values(locked_by=None, locked_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLostError(f"job {job.id}: lease of {job.worker} was lost")


def finish(session: Session, job: ClaimedJob) -> None:
    """Mark the job done in the caller's transaction; LeaseLostError if another worker has it."""
    _release(session, job, status=JobStatus.DONE, last_error=None)


def release(session: Session, job: ClaimedJob, *, now: datetime | None = None) -> None:
    """Give a running job back to the queue, due at `now`, without counting its attempt: the
    worker is shutting down, the job did not fail. LeaseLostError if another worker has it."""
    _release(
        session,
        job,
        status=JobStatus.QUEUED,
        run_after=now or utcnow(),
        attempts=Job.attempts - 1,
    )


def retry_or_fail(
    session: Session,
    job: ClaimedJob,
    error: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> bool:
    """Queue the job again after a back-off from `now`, or mark it failed after
    `max_attempts`. Returns True when it will be retried."""
    if job.attempts >= max_attempts:
        _release(session, job, status=JobStatus.FAILED, last_error=error[:4000])
        return False
    _release(
        session,
        job,
        status=JobStatus.QUEUED,
        run_after=(now or utcnow()) + backoff(job.attempts),
        last_error=error[:4000],
    )
    return True
