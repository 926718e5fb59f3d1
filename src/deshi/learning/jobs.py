"""The retrain job: run by the worker when `learn_from_review` found a retrain due."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.db.models import Process
from deshi.jobs.queue import ClaimedJob
from deshi.jobs.worker import Handler
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB, retrain

__all__ = ["RETRAIN_JOB", "retrain_handler"]


def retrain_handler(registry: AgentRegistry) -> Handler:
    """A handler that retrains the job's process, unless nothing was reviewed since the last
    version (a duplicate or re-run job) or the process is gone or archived."""

    def handle(session: Session, job: ClaimedJob) -> None:
        process = session.get(Process, int(job.payload["process_id"]))
        if process is None or process.archived_at is not None:
            return
        with registry.agent(session, process) as entry:
            labelled = sum(1 for o in entry.agent.observations if o.label is not None)
            latest = entry.agent.versions[-1].trained_on if entry.agent.versions else 0
            if labelled == 0 or labelled <= latest:
                return
            retrain(session, process=process, registry=registry)

    return handle
