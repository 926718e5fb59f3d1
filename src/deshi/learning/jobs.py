"""The retrain job: run by the worker when `learn_from_review` found a retrain due."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from deshi.db import engine_from_settings, make_session_factory
from deshi.engine.blas import limit_blas_threads
from deshi.engine.heap import release_free_heap
from deshi.engine.training import DeciderFactory
from deshi.jobs.queue import ClaimedJob
from deshi.jobs.worker import Handler, JobRun
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB, retrain
from deshi.logs import configure_logging
from deshi.settings import Settings

__all__ = ["RETRAIN_JOB", "retrain_handler"]

logger = logging.getLogger("deshi.learning")

PARENT_POLL_SECONDS = 1.0  # how soon a child retrain notices its worker is gone


def retrain_handler(registry: AgentRegistry, *, isolated: Settings | None = None) -> Handler:
    """A handler that retrains the job's process, unless nothing was reviewed since the last
    version (a duplicate or re-run job) or the process is gone or archived. The model trains
    with no transaction open; the new version is stored in the job's finishing transaction.

    With `isolated` (the settings of the worker's database), each job runs in a child process
    started for it, which builds its own agent from the database, trains, stores the version
    and marks the job done in one transaction, and exits: a retrain's peak (tens to hundreds
    of MiB, growing with the process's history) is then given back to the system, where a
    long-running worker's allocators would keep it (docs/benchmarks.md, "Soak"). It costs the
    child's start and the agent's restore, seconds. `registry`'s decider factory must then be
    picklable (a class or a module-level function).

    In process, the worker's agent is dropped after each job and the C allocator's free heap
    trimmed: kept, the agent is a second copy of the one the API serves (case memory and
    resident versions, about 9 KiB per reviewed item), one per process ever retrained, for as
    long as the worker runs. The next retrain rebuilds it from the database."""

    def handle(run: JobRun) -> None:
        if isolated is not None:
            run.finished = _run_in_child(isolated, run.job, registry)
            return
        _retrain_job(run, registry)

    return handle


def _retrain_job(run: JobRun, registry: AgentRegistry) -> None:
    process_id = int(run.job.payload["process_id"])
    try:
        retrain(
            run.factory,
            process_id=process_id,
            registry=registry,
            routine=True,
            finishing=run.finishing,
            relearn=bool(run.job.payload.get("relearn")),
        )
    finally:
        registry.invalidate(process_id)
        release_free_heap()


def _run_in_child(settings: Settings, job: ClaimedJob, registry: AgentRegistry) -> bool:
    """Run the job in a fresh child process (spawned: no thread or lock of this one is
    copied); True when the child marked the job done. An exception in the child is raised
    here; a child killed outright raises BrokenProcessPool, and the job is retried."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        finished = pool.submit(
            _child_retrain,
            settings,
            job,
            registry.make_decider,
            registry.training_threads,
            os.getpid(),
        ).result()
    logger.info(
        "job %s: retrained process %s in a child process in %.1f s",
        job.id,
        job.payload.get("process_id"),
        time.perf_counter() - started,
    )
    registry.invalidate(int(job.payload["process_id"]))
    return finished


def _child_retrain(
    settings: Settings,
    job: ClaimedJob,
    make_decider: DeciderFactory,
    training_threads: int | None,
    parent_pid: int,
) -> bool:
    """The child's side of `_run_in_child`: the job with an engine and an agent of its own."""
    _exit_with_parent(parent_pid)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    limit_blas_threads(settings.blas_threads)
    engine = engine_from_settings(settings)
    try:
        run = JobRun(job, make_session_factory(engine))
        registry = AgentRegistry(make_decider=make_decider, training_threads=training_threads)
        _retrain_job(run, registry)
        return run.finished
    finally:
        engine.dispose()


def _exit_with_parent(parent_pid: int) -> None:
    """End this child when the worker that started it is gone (killed outright, say): its job
    goes back to the queue when its lease runs out, and no orphan trains on meanwhile."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="deshi-parent-watch", daemon=True).start()
