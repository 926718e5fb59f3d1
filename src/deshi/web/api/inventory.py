"""Process inventory routes: add a candidate, list the ranked inventory, delete a candidate."""

from __future__ import annotations

from fastapi import APIRouter, status

from deshi.inventory import service
from deshi.inventory.models import CandidateCreate, CandidatePublic, RankedCandidatePublic
from deshi.web.deps import PrincipalDep, SessionDep
from deshi.web.params import PathId

router = APIRouter(tags=["inventory"])


@router.post(
    "/departments/{department_id}/inventory",
    response_model=CandidatePublic,
    status_code=status.HTTP_201_CREATED,
)
def add_candidate(
    department_id: PathId, body: CandidateCreate, session: SessionDep, principal: PrincipalDep
) -> object:
    """Propose a process for automation in a department you manage."""
    return service.add_candidate_for(
        session, principal=principal, department_id=department_id, data=body
    )


@router.get("/departments/{department_id}/inventory", response_model=list[RankedCandidatePublic])
def list_inventory(department_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """The department's candidates, best first, with expected yearly savings and a 90-day plan."""
    return service.ranked_inventory_for(session, principal=principal, department_id=department_id)


@router.delete("/inventory/{candidate_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_candidate(candidate_id: PathId, session: SessionDep, principal: PrincipalDep) -> None:
    """Remove a candidate from its department's inventory."""
    service.delete_candidate_for(session, principal=principal, candidate_id=candidate_id)
