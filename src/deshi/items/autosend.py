"""Queue the drafting of replies that may be sent without review (issue #25, point 5).

When a process's `draft_autosend` is on, every item the agent auto-completed, and every item
sampled for the blind audit in its place (it would have been auto-completed), gets a job
`DRAFT_AUTOSEND_JOB`: the worker drafts its reply and sends it, or keeps it as a suggestion
(`deshi.drafting.autosend_job`). Drafting never runs in the ingest request: the local model
takes tens of seconds a draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import insert
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Item, Job, JobStatus, Process
from deshi.domain import ItemStatus
from deshi.engine import Decision, Route
from deshi.items.routing import initial_status

__all__ = ["DRAFT_AUTOSEND_JOB", "enqueue_autosend"]

DRAFT_AUTOSEND_JOB: Final = "drafting.autosend"


def enqueue_autosend(
    session: Session, *, process: Process, items: Sequence[Item], decisions: Sequence[Decision]
) -> int:
    """Queue a drafting job per auto-completed or audit-sampled item; returns how many."""
    if not process.draft_autosend:
        return 0
    now = utcnow()
    # One row per item added in one flush: the items are new, so no job of theirs exists to
    # dedupe against (and the handler drafts an item once however often it runs).
    jobs = []
    for item, decision in zip(items, decisions, strict=True):
        audit = decision.route is Route.AUDIT and _would_auto_complete(process, item)
        if audit or item.status is ItemStatus.AUTO_COMPLETED:
            jobs.append(
                {
                    "kind": DRAFT_AUTOSEND_JOB,
                    "payload": {"item_id": item.id, "audit": audit},
                    "status": JobStatus.QUEUED,
                    "run_after": now,
                    "attempts": 0,
                }
            )
    if jobs:  # one multi-row INSERT: no ORM objects to track for rows nobody reads back
        session.execute(insert(Job), jobs)
    return len(jobs)


def _would_auto_complete(process: Process, item: Item) -> bool:
    """An audit sample stands in for an auto-completion only where one could happen."""
    return initial_status(process.mode, Route.AUTO, item.arm) is ItemStatus.AUTO_COMPLETED
