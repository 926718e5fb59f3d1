"""Review queue routes: claim the next item with a lease, answer it, release it."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from deshi.items.models import ItemPublic
from deshi.reviews import service
from deshi.reviews.models import ClaimedItemPublic, ReviewCreate
from deshi.web.deps import ConfigDep, PrincipalDep, RegistryDep, SessionDep
from deshi.web.params import PathId

router = APIRouter(tags=["review queue"])


@router.post(
    "/processes/{process_id}/queue/claim",
    response_model=ClaimedItemPublic,
    responses={204: {"description": "Nothing to claim."}},
)
def claim(
    process_id: PathId, session: SessionDep, principal: PrincipalDep, config: ConfigDep
) -> object:
    """Lease the next queued item to you; blind items come without the agent's suggestion."""
    claimed = service.claim_next(
        session, principal=principal, process_id=process_id, lease_seconds=config.lease_seconds
    )
    return claimed if claimed is not None else Response(status_code=status.HTTP_204_NO_CONTENT)


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
