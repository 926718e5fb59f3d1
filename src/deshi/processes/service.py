"""Process use cases needed by the storage and governance layer: create, and load if visible."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.auth.permissions import Action, Principal, require
from deshi.db.models import Department, Process
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.processes import repo

__all__ = ["create_department", "create_process", "get_process_for"]


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
