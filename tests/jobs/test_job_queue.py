from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from fake_clock import FakeClock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import Department, Job, JobStatus
from deshi.jobs.queue import LeaseLostError, backoff, claim, enqueue, finish, renew
from deshi.jobs.worker import JobRun, Worker


def _enqueue(
    factory: sessionmaker[Session], n: int, clock: FakeClock | None = None, kind: str = "test.note"
) -> list[int]:
    due = clock.now() if clock is not None else None
    with transaction(factory) as session:
        return [enqueue(session, kind=kind, payload={"n": i}, run_after=due).id for i in range(n)]


def _job(factory: sessionmaker[Session], job_id: int) -> Job:
    with factory() as session:
        return session.get_one(Job, job_id)


def test_two_workers_never_run_the_same_job(session_factory: sessionmaker[Session]) -> None:
    ids = _enqueue(session_factory, 40)
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def note(run: JobRun) -> None:
        with run.finishing() as session:
            session.add(Department(name=f"dept-{run.job.id}"))  # a database effect per job
        with lock:
            ran[run.job.id] += 1

    workers = [Worker(session_factory, {"test.note": note}, name=f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(ran) == ids and set(ran.values()) == {1}
    with session_factory() as session:
        statuses = session.scalars(select(Job.status)).all()
        assert set(statuses) == {JobStatus.DONE}
        assert len(session.scalars(select(Department)).all()) == 40


def test_expired_lease_is_retried_and_completed_once(
    session_factory: sessionmaker[Session],
) -> None:
    clock = FakeClock()
    [job_id] = _enqueue(session_factory, 1, clock)
    with transaction(session_factory) as session:
        crashed = claim(session, worker="crashed", lease=timedelta(seconds=1), now=clock.now())
    assert crashed is not None and crashed.id == job_id
    clock.advance(timedelta(seconds=2))
    done: list[int] = []
    rescuer = Worker(
        session_factory, {"test.note": lambda run: done.append(run.job.attempts)}, clock=clock
    )
    assert rescuer.run_once() is not None
    assert done == [2]
    with pytest.raises(LeaseLostError), transaction(session_factory) as session:
        session.add(Department(name="late effect"))
        finish(session, crashed)  # the crashed worker wakes up: its work must not commit
    with session_factory() as session:
        assert session.scalars(select(Department)).all() == []
    assert _job(session_factory, job_id).status is JobStatus.DONE


def test_running_job_with_live_lease_is_not_taken(session_factory: sessionmaker[Session]) -> None:
    _enqueue(session_factory, 1)
    with transaction(session_factory) as session:
        assert claim(session, worker="a") is not None
    with transaction(session_factory) as session:
        assert claim(session, worker="b") is None


def test_renew_extends_only_the_holders_live_lease(session_factory: sessionmaker[Session]) -> None:
    clock = FakeClock()
    [job_id] = _enqueue(session_factory, 1, clock)
    with transaction(session_factory) as session:
        job = claim(session, worker="a", lease=timedelta(seconds=10), now=clock.now())
    assert job is not None
    stranger = replace(job, worker="b")
    with transaction(session_factory) as session:
        assert renew(session, job, timedelta(hours=1), now=clock.now())
        assert not renew(session, stranger, timedelta(hours=1), now=clock.now())
    assert _job(session_factory, job_id).locked_until == clock.now() + timedelta(hours=1)
    with transaction(session_factory) as session:
        finish(session, job)
    with transaction(session_factory) as session:
        assert not renew(session, job, timedelta(hours=1))  # a finished job has no lease
    assert _job(session_factory, job_id).locked_until is None


def test_job_running_longer_than_its_lease_is_not_taken_over(
    session_factory: sessionmaker[Session],
) -> None:
    """The worker renews the lease while the handler runs; without that, a second worker would
    claim the job once its first lease ran out and run it twice."""
    clock = FakeClock()
    [job_id] = _enqueue(session_factory, 1, clock)
    lease = timedelta(minutes=5)
    rivals_got: list[int | None] = []

    def slow(run: JobRun) -> None:
        clock.until_waiting(1)  # the worker's lease renewer
        for _ in range(5):  # 2.5 leases in all
            clock.advance(lease / 2)
            with transaction(session_factory) as session:
                rival = claim(session, worker="rival", lease=lease, now=clock.now())
            rivals_got.append(None if rival is None else rival.id)
        with run.finishing() as session:
            session.add(Department(name="done once"))

    worker = Worker(session_factory, {"test.note": slow}, name="slow", lease=lease, clock=clock)
    assert worker.run_once() is not None
    assert rivals_got == [None] * 5
    job = _job(session_factory, job_id)
    assert job.status is JobStatus.DONE and job.attempts == 1
    with session_factory() as session:
        assert [d.name for d in session.scalars(select(Department))] == ["done once"]


def test_failed_job_is_retried_with_backoff_then_marked_failed(
    session_factory: sessionmaker[Session],
) -> None:
    clock = FakeClock()
    [job_id] = _enqueue(session_factory, 1, clock)

    def boom(_run: JobRun) -> None:
        raise RuntimeError("upstream down")

    worker = Worker(session_factory, {"test.note": boom}, max_attempts=3, clock=clock)
    for attempt in (1, 2):
        assert worker.run_once() is not None
        job = _job(session_factory, job_id)
        assert job.status is JobStatus.QUEUED and job.attempts == attempt
        assert job.last_error == "RuntimeError: upstream down"
        assert job.run_after == clock.now() + backoff(attempt)
        clock.advance(backoff(attempt) - timedelta(seconds=1))
        assert worker.run_once() is None  # not due yet
        clock.advance(timedelta(seconds=1))
    assert backoff(2) > backoff(1)
    assert worker.run_once() is not None
    assert _job(session_factory, job_id).status is JobStatus.FAILED


def test_enqueue_with_dedupe_key_keeps_one_queued_job(session: Session) -> None:
    first = enqueue(session, kind="k", payload={"p": 1}, dedupe_key="p:1")
    again = enqueue(session, kind="k", payload={"p": 1}, dedupe_key="p:1")
    other = enqueue(session, kind="k", payload={"p": 2}, dedupe_key="p:2")
    assert first.id == again.id != other.id
