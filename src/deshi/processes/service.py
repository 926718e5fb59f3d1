"""Process use cases: create, list, read, update the policy, archive; every change is audited.

Functions taking a `principal` check permissions themselves (NotFound for departments the
caller cannot see, PermissionDenied for actions their roles do not allow).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.base import utcnow
from deshi.db.tables import Department, Process
from deshi.engine.featurize import missing_extra
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.permissions import Action, Principal, can_see, require
from deshi.processes import repo
from deshi.processes.models import ProcessCreate, ProcessUpdate

__all__ = [
    "archive_process",
    "create_department",
    "create_process",
    "create_process_for",
    "get_process_for",
    "list_processes_for",
    "update_process",
]


def create_department(session: Session, *, actor: str, name: str) -> Department:
    """Create a department (a data boundary); names are unique."""
    name = name.strip()
    if not name:
        raise ValidationFailed("a department needs a name", field="name")
    if repo.get_department_by_name(session, name) is not None:
        raise Conflict(f"department {name!r} already exists")
    department = Department(name=name)
    session.add(department)
    session.flush()
    after = snapshot(department)
    record_event(session, actor=actor, action="department.create", obj=department, after=after)
    return department


def create_process(
    session: Session, *, actor: str, department_id: int, name: str, labels: list[str]
) -> Process:
    """Create a process in shadow mode with the default policy; tune it with later updates."""
    if session.get(Department, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    if not name.strip():
        raise ValidationFailed("a process needs a name", field="name")
    process = Process(department_id=department_id, name=name.strip(), labels=list(labels))
    session.add(process)
    session.flush()
    after = snapshot(process)
    record_event(session, actor=actor, action="process.create", obj=process, after=after)
    return process


def get_process_for(
    session: Session, principal: Principal, process_id: int, action: Action = Action.READ
) -> Process:
    """The process if the principal may `action` it; NotFound also when it is in a department
    they cannot see, PermissionDenied when they see it but may not `action` it."""
    process = repo.get_process(session, process_id)
    if process is None:
        raise NotFound(f"process {process_id} not found")
    try:
        require(principal, action, process.department_id)
    except NotFound:
        raise NotFound(f"process {process_id} not found") from None
    return process


def create_process_for(session: Session, *, principal: Principal, data: ProcessCreate) -> Process:
    """Create a process in a department the principal may manage; they become its owner."""
    try:
        require(principal, Action.MANAGE_PROCESS, data.department_id)
    except NotFound:
        raise NotFound(f"department {data.department_id} not found") from None
    if session.get(Department, data.department_id) is None:
        raise NotFound(f"department {data.department_id} not found")
    _check_featurizer(data.featurizer)
    process = Process(
        department_id=data.department_id,
        name=data.name.strip(),
        description=data.description,
        labels=_unique(data.labels),
        input_fields=list(data.input_fields),
        featurizer=data.featurizer.value,
        owner_user_id=principal.user_id,
    )
    if not process.name:
        raise ValidationFailed("a process needs a name", field="name")
    session.add(process)
    session.flush()
    after = snapshot(process)
    record_event(session, actor=principal.actor, action="process.create", obj=process, after=after)
    return process


def list_processes_for(
    session: Session, *, principal: Principal, include_archived: bool = False
) -> list[Process]:
    """Every process in a department the principal can see."""
    if principal.is_workspace_admin:
        return repo.list_processes(session, department_ids=None, include_archived=include_archived)
    departments = {g.department_id for g in principal.grants if g.department_id is not None}
    visible = {d for d in departments if can_see(principal, d)}
    return repo.list_processes(session, department_ids=visible, include_archived=include_archived)


def update_process(
    session: Session, *, principal: Principal, process_id: int, changes: ProcessUpdate
) -> Process:
    """Apply a partial update to a process's policy, costs or plan; audited when it changes."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    if process.archived_at is not None:
        raise Conflict(f"process {process_id} is archived")
    values = changes.changes()
    if "labels" in values:
        values["labels"] = _unique(values["labels"])
    if "featurizer" in values:
        _check_featurizer(values["featurizer"])
        values["featurizer"] = values["featurizer"].value
    before = snapshot(process)
    for name, value in values.items():
        setattr(process, name, value)
    after = snapshot(process)
    if after != before:
        record_event(
            session,
            actor=principal.actor,
            action="process.update",
            obj=process,
            before=before,
            after=after,
        )
    return process


def _check_featurizer(name: str) -> None:
    """Refuse a featurizer whose extra is not installed now, not at the process's first decision."""
    extra = missing_extra(name)
    if extra is not None:
        raise ValidationFailed(
            f"the {name} featurizer needs the {extra!r} extra: pip install 'deshi[{extra}]'",
            field="featurizer",
        )


def archive_process(session: Session, *, principal: Principal, process_id: int) -> Process:
    """Archive a process: it keeps its history but takes no new items."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    if process.archived_at is not None:
        raise Conflict(f"process {process_id} is already archived")
    before = snapshot(process)
    process.archived_at = utcnow()
    record_event(
        session,
        actor=principal.actor,
        action="process.archive",
        obj=process,
        before=before,
        after=snapshot(process),
    )
    return process


def _unique(labels: list[str]) -> list[str]:
    """Labels in first-seen order without duplicates or blanks."""
    return list(dict.fromkeys(label.strip() for label in labels if label.strip()))
