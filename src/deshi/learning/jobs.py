"""The retrain job: run by the worker when `learn_from_review` found a retrain due."""

from __future__ import annotations

from deshi.engine.heap import release_free_heap
from deshi.jobs.worker import Handler, JobRun
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB, retrain

__all__ = ["RETRAIN_JOB", "retrain_handler"]


def retrain_handler(registry: AgentRegistry) -> Handler:
    """A handler that retrains the job's process, unless nothing was reviewed since the last
    version (a duplicate or re-run job) or the process is gone or archived. The model trains
    with no transaction open; the new version is stored in the job's finishing transaction.

    The worker's agent is dropped after each job and the C allocator's free heap trimmed: kept,
    the agent is a second copy of the one the API serves (case memory and resident versions,
    about 9 KiB per reviewed item), one per process ever retrained, for as long as the worker
    runs. The next retrain rebuilds it from the database, a fraction of the fit."""

    def handle(run: JobRun) -> None:
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

    return handle
