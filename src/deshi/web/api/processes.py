"""Process routes: create, list, read, update the policy, archive."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from deshi.history import golive
from deshi.history.models import GoLivePublic
from deshi.permissions import Action
from deshi.processes import service
from deshi.processes.models import (
    LabelNamesUpdate,
    LabelPublic,
    ProcessCreate,
    ProcessPublic,
    ProcessUpdate,
)
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


@router.get(
    "/{process_id}/labels",
    response_model=list[LabelPublic],
    responses={404: {"description": "No such process, or one you cannot see."}},
)
def list_labels(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """The process's labels with their readable names per language."""
    return service.labels_of(service.get_process_for(session, principal, process_id, Action.READ))


@router.patch(
    "/{process_id}/labels",
    response_model=list[LabelPublic],
    responses={
        403: {"description": "You may see the process but not manage it."},
        404: {"description": "No such process, or one you cannot see."},
        409: {"description": "The process is archived."},
        422: {"description": "An unknown language or label, or a name too long."},
    },
)
def name_labels(
    process_id: PathId, body: LabelNamesUpdate, session: SessionDep, principal: PrincipalDep
) -> object:
    """Give labels readable names (per language; an empty name removes one, and the label
    shows its code again); audited as `process.label_names`."""
    return service.set_label_names_for(
        session, principal=principal, process_id=process_id, changes=body
    )


@router.post("/{process_id}/archive", response_model=ProcessPublic)
def archive_process(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """Archive a process: it keeps its history and takes no new items."""
    return service.archive_process(session, principal=principal, process_id=process_id)


_GO_LIVE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such process, or one you cannot see."}
}


@router.get("/{process_id}/go-live", response_model=GoLivePublic, responses=_GO_LIVE_ERRORS)
def get_go_live(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """The latest go-live check: what autopilot would have done on the most recent slice of the
    history (automation and error with intervals at the process's ε and 1 − δ, and a verdict);
    `status` is "none" before the first check."""
    return golive.latest_golive_for(session, principal=principal, process_id=process_id)


@router.post(
    "/{process_id}/go-live",
    response_model=GoLivePublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_GO_LIVE_ERRORS,
        403: {"description": "You do not manage this process (owners and admins do)."},
    },
)
def request_go_live(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """Queue a go-live check for the background worker (a check already queued is returned);
    poll `GET /processes/{id}/go-live` for its figures. Needs manage_process."""
    return golive.request_golive_for(session, principal=principal, process_id=process_id)
