"""The retrain job: run by the worker when `learn_from_review` found a retrain due."""

from __future__ import annotations

from deshi.jobs.worker import Handler, JobRun
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB, retrain

__all__ = ["RETRAIN_JOB", "retrain_handler"]


def retrain_handler(registry: AgentRegistry) -> Handler:
    """A handler that retrains the job's process, unless nothing was reviewed since the last
    version (a duplicate or re-run job) or the process is gone or archived. The model trains
    with no transaction open; the new version is stored in the job's finishing transaction."""

    def handle(run: JobRun) -> None:
        retrain(
            run.factory,
            process_id=int(run.job.payload["process_id"]),
            registry=registry,
            routine=True,
            finishing=run.finishing,
            relearn=bool(run.job.payload.get("relearn")),
        )

    return handle
