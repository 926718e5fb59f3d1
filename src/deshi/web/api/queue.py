"""Review queue routes: claim the next item with a lease, answer it, release it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from deshi.items.models import ItemPublic
from deshi.reviews import service
from deshi.reviews.models import ClaimedItemPublic, ReviewCreate
from deshi.web.deps import ConfigDep, PrincipalDep, RegistryDep, SessionDep
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
    config: ConfigDep,
    resume: ResumeQuery = True,
) -> object:
    """Lease an item to you: the one you still hold first, else the next queued one; blind
    items come without the agent's suggestion."""
    claimed = service.claim_next(
        session,
        principal=principal,
        process_id=process_id,
        lease_seconds=config.lease_seconds,
        resume_held=resume,
    )
    return claimed if claimed is not None else Response(status_code=status.HTTP_204_NO_CONTENT)


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
