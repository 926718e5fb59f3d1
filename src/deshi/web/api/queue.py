"""Review queue routes: claim the next item with a lease, answer it (or undo the answer),
release it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Response, status
from pydantic import BaseModel

from deshi.items.models import ItemPublic
from deshi.reviews import service
from deshi.reviews.models import ClaimedItemPublic, ReviewCreate
from deshi.reviews.prefetch import prefetch_passages
from deshi.reviews.service import UNDO_WINDOW_SECONDS
from deshi.reviews.undo import undo_review
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import ConfigDep, FactoryDep, PrincipalDep, RegistryDep, SessionDep
from deshi.web.params import PathId

router = APIRouter(tags=["review queue"])

ResumeQuery = Annotated[
    bool,
    Query(
        description="Give back the item you still hold (lease renewed) before a new one; "
        "false always leases a further item."
    ),
]


class QueueCount(BaseModel):
    """Items waiting in a process's queue that you could claim now."""

    waiting: int


@router.post(
    "/processes/{process_id}/queue/claim",
    response_model=ClaimedItemPublic,
    responses={204: {"description": "Nothing to claim."}},
)
def claim(
    process_id: PathId,
    session: SessionDep,
    principal: PrincipalDep,
    factory: FactoryDep,
    config: ConfigDep,
    index: KnowledgeDep,
    background: BackgroundTasks,
    resume: ResumeQuery = True,
) -> object:
    """Lease an item to you: the one you still hold first, else the next queued one; blind
    items come without the agent's suggestion. Each comes with the passages of its
    department's documents that bear on it (found on its first claim, or just before, while
    the previous item was read; then kept)."""
    claimed = service.claim_next(
        session,
        principal=principal,
        process_id=process_id,
        lease_seconds=config.lease_seconds,
        resume_held=resume,
        index=index,
    )
    if claimed is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    background.add_task(
        prefetch_passages, factory, principal=principal, process_id=process_id, index=index
    )
    return claimed


@router.get("/processes/{process_id}/queue/count", response_model=QueueCount)
def count(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> QueueCount:
    """How many items you could claim now (items held by a live lease are not counted)."""
    waiting = service.count_waiting(session, principal=principal, process_id=process_id)
    return QueueCount(waiting=waiting)


@router.post("/items/{item_id}/review", response_model=ItemPublic)
def review(
    item_id: PathId,
    body: ReviewCreate,
    session: SessionDep,
    principal: PrincipalDep,
    registry: RegistryDep,
) -> ItemPublic:
    """Answer an item you hold: accept, correct (with label) or escalate."""
    return service.submit_review(
        session, principal=principal, item_id=item_id, answer=body, registry=registry
    )


@router.post("/items/{item_id}/release", response_model=ItemPublic)
def release(item_id: PathId, session: SessionDep, principal: PrincipalDep) -> ItemPublic:
    """Give an item you hold back to the queue."""
    return service.release_item(session, principal=principal, item_id=item_id)


@router.post(
    "/items/{item_id}/review/undo",
    response_model=ClaimedItemPublic,
    responses={
        403: {"description": "The answer is someone else's: only its reviewer may undo it."},
        404: {"description": "No such item, or not in a department you can see."},
        409: {
            "description": f"No answer to undo, the {UNDO_WINDOW_SECONDS} s undo window is "
            "over, the item was taken up again, or the process is archived."
        },
    },
)
def undo(
    item_id: PathId, session: SessionDep, principal: PrincipalDep, config: ConfigDep
) -> ClaimedItemPublic:
    """Take back your last answer on an item within the undo window (30 s): the item
    is held by you again (a fresh lease) to answer anew. The withdrawn answer leaves the KPIs
    and the case memory, its `item.completed` webhook is never sent, and the audit log records
    `review.undo`."""
    return undo_review(
        session, principal=principal, item_id=item_id, lease_seconds=config.lease_seconds
    )
