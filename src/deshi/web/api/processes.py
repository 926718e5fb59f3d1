"""Process routes: create, list, read, update the policy, archive."""

from __future__ import annotations

from fastapi import APIRouter, status

from deshi.permissions import Action
from deshi.processes import service
from deshi.processes.models import ProcessCreate, ProcessPublic, ProcessUpdate
from deshi.web.deps import PrincipalDep, SessionDep
from deshi.web.params import PathId

router = APIRouter(prefix="/processes", tags=["processes"])


@router.post(
    "",
    response_model=ProcessPublic,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such department, or one you cannot see."}},
)
def create_process(body: ProcessCreate, session: SessionDep, principal: PrincipalDep) -> object:
    """Create a process in a department you manage; it starts in shadow mode."""
    return service.create_process_for(session, principal=principal, data=body)


@router.get("", response_model=list[ProcessPublic])
def list_processes(
    session: SessionDep, principal: PrincipalDep, include_archived: bool = False
) -> object:
    """Processes in the departments you can see."""
    return service.list_processes_for(
        session, principal=principal, include_archived=include_archived
    )


@router.get("/{process_id}", response_model=ProcessPublic)
def get_process(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """One process."""
    return service.get_process_for(session, principal, process_id, Action.READ)


@router.patch("/{process_id}", response_model=ProcessPublic)
def update_process(
    process_id: PathId, body: ProcessUpdate, session: SessionDep, principal: PrincipalDep
) -> object:
    """Change the policy (ε, confidence, audit rate, mode, rules), costs or plan."""
    return service.update_process(session, principal=principal, process_id=process_id, changes=body)


@router.post("/{process_id}/archive", response_model=ProcessPublic)
def archive_process(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """Archive a process: it keeps its history and takes no new items."""
    return service.archive_process(session, principal=principal, process_id=process_id)
