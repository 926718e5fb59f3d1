"""The job worker: claims due jobs, runs their handlers, finishes or retries them.

Runs in `deshi worker` processes in production, or as a thread in the API process on a single
node (`deshi.web.background`). A handler gets a `JobRun`: it reads in short transactions
of its own, does its slow part (training a model, calling a webhook) with no transaction open,
and writes its results in `JobRun.finishing()`, the one transaction that also marks the job
done. So a job's writes are applied at most once even if its lease expired and another worker
re-ran it, and no database lock is held while a job trains or waits on the network (on SQLite
a long transaction would either block every writer or, reading first, fail at its first write
once anyone else had committed). A failed job is queued again with exponential back-off until
`max_attempts`, then marked failed.

While a handler runs, a thread renews the job's lease every third of its length, so a job may
take longer than its lease (a retrain on a large process) without a second worker taking it
over; only a worker that stops renewing (crashed, or cut off from the database for a whole
lease) loses its jobs.

The worker reads the time and waits for it through its `clock` (`deshi.jobs.clock`): claims,
renewals, back-offs, renewal intervals and idle polls all go by it.

Shutting down: `run(stop)` finishes the running job and returns once `stop` is set. A shutdown
that cannot wait calls `release_current()` (from any thread) to give the job back to the queue,
due at once and its attempt not counted; the handler, if it goes on, can no longer commit
(`finishing()` raises LeaseLostError). A KeyboardInterrupt or SystemExit raised inside a job
releases it too. Only a worker killed outright (SIGKILL, power loss), or interrupted in the
instant between committing a claim and starting the job, leaves its job leased, and then only
until the lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.jobs.clock import SYSTEM_CLOCK, Clock
from deshi.jobs.queue import (
    DEFAULT_LEASE,
    MAX_ATTEMPTS,
    ClaimedJob,
    LeaseLostError,
    claim,
    finish,
    release,
    renew,
    retry_or_fail,
)

__all__ = ["Handler", "JobRun", "Worker", "worker_name"]

logger = logging.getLogger("deshi.jobs")

RENEWALS_PER_LEASE = 3  # a renewal may fail or be late twice before the lease runs out


@dataclass
class JobRun:
    """A claimed job as its handler sees it: the job, and the sessions to do it with."""

    job: ClaimedJob
    factory: sessionmaker[Session]
    finished: bool = False

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction for reads; it never takes SQLite's write lock. Write nothing here:
        only `finishing()` commits together with the job's "done"."""
        with transaction(self.factory, lock_early=False) as session:
            yield session

    @contextmanager
    def finishing(self) -> Iterator[Session]:
        """The job's last transaction: the handler's writes commit together with the job's
        "done", or not at all (LeaseLostError when another worker holds the job now)."""
        if self.finished:
            raise RuntimeError(f"job {self.job.id} is already finished")
        with transaction(self.factory) as session:
            yield session
            finish(session, self.job)
        self.finished = True


Handler = Callable[[JobRun], None]  # a handler that never enters run.finishing() is done too


def worker_name() -> str:
    """A name unique to this worker: host, OS process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """Runs jobs of the kinds it has handlers for."""

    factory: sessionmaker[Session]
    handlers: Mapping[str, Handler]
    name: str = field(default_factory=worker_name)
    lease: timedelta = DEFAULT_LEASE
    max_attempts: int = MAX_ATTEMPTS
    clock: Clock = SYSTEM_CLOCK
    _current: ClaimedJob | None = field(default=None, init=False, repr=False)

    def run_once(self) -> ClaimedJob | None:
        """Claim and run one due job; None when there was nothing to do."""
        kinds = frozenset(self.handlers)
        with transaction(self.factory) as session:
            job = claim(
                session, worker=self.name, kinds=kinds, lease=self.lease, now=self.clock.now()
            )
        if job is None:
            return None
        self._current = job
        try:
            self._run_claimed(job)
        except BaseException:  # KeyboardInterrupt, SystemExit: the process is going down
            self.release_current()
            raise
        finally:
            self._current = None
        return job

    def release_current(self) -> ClaimedJob | None:
        """Give the job this worker runs back to the queue (due now, its attempt not counted),
        for a shutdown that cannot wait for it; safe from any thread. Returns the job, or None
        when there was none or it was finished or taken over meanwhile."""
        job = self._current
        if job is None:
            return None
        try:
            with transaction(self.factory) as session:
                release(session, job, now=self.clock.now())
        except LeaseLostError:
            return None
        logger.warning("job %s (%s): released back to the queue at shutdown", job.id, job.kind)
        return job

    def _run_claimed(self, job: ClaimedJob) -> None:
        if job.attempts > self.max_attempts:  # its workers kept dying mid-job
            self._fail(job, "lease expired after the last attempt")
            return
        run = JobRun(job, self.factory)
        try:
            with self._keeping_lease(job):
                self.handlers[job.kind](run)
            if not run.finished:  # nothing to write: a duplicate job, a gone process
                with run.finishing():
                    pass
        except LeaseLostError:
            logger.warning("job %s (%s): lease lost; its work was rolled back", job.id, job.kind)
        except Exception as exc:
            logger.exception("job %s (%s) failed on attempt %s", job.id, job.kind, job.attempts)
            self._fail(job, f"{type(exc).__name__}: {exc}")

    def run_until_idle(self, *, limit: int | None = None) -> int:
        """Run due jobs until none is left (or `limit` were run); returns how many ran."""
        count = 0
        while (limit is None or count < limit) and self.run_once() is not None:
            count += 1
        return count

    def run(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Run jobs until `stop` is set, sleeping `poll_seconds` whenever the queue is idle."""
        logger.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database is unreachable, say: keep the worker alive
                logger.exception("worker %s: claiming failed", self.name)
                ran = None
            if ran is None:
                self.clock.wait(stop, poll_seconds)
        logger.info("worker %s stopped", self.name)

    @contextmanager
    def _keeping_lease(self, job: ClaimedJob) -> Iterator[None]:
        """Renew the job's lease in a background thread for as long as the block runs."""
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew_until, args=(job, stop), name=f"lease-{job.id}", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()

    def _renew_until(self, job: ClaimedJob, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / RENEWALS_PER_LEASE
        while not self.clock.wait(stop, interval):
            try:
                with transaction(self.factory) as session:
                    held = renew(session, job, self.lease, now=self.clock.now())
            except Exception:  # the database is unreachable, say: the lease may still run
                logger.exception("job %s: renewing its lease failed", job.id)
                continue
            if not held:  # taken over, or finished by the handler a moment ago
                logger.info("job %s: no longer held by %s; lease renewal stops", job.id, self.name)
                return

    def _fail(self, job: ClaimedJob, error: str) -> None:
        try:
            with transaction(self.factory) as session:
                retry_or_fail(
                    session, job, error, max_attempts=self.max_attempts, now=self.clock.now()
                )
        except LeaseLostError:
            logger.warning("job %s: lease lost before its failure was recorded", job.id)
