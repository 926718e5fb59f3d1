"""Process use cases: create, list, read, update the policy, archive; every change is audited.

Functions taking a `principal` check permissions themselves (NotFound for departments the
caller cannot see, PermissionDenied for actions their roles do not allow); the ones taking an
`actor` serve operators who hold the database (the CLI) and check nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.base import utcnow
from deshi.db.tables import Department, Process
from deshi.engine.featurize import missing_extra
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.permissions import Action, Principal, can_see, require, require_workspace
from deshi.processes import repo
from deshi.processes.draft_fields import merged_fields
from deshi.processes.label_guidance import merged_guidance
from deshi.processes.label_names import merged_names
from deshi.processes.models import LabelNamesUpdate, LabelPublic, ProcessCreate, ProcessUpdate

__all__ = [
    "apply_process_changes",
    "archive_department",
    "archive_department_for",
    "archive_process",
    "archive_process_as",
    "create_department",
    "create_department_for",
    "create_process",
    "create_process_for",
    "get_department",
    "get_process",
    "get_process_for",
    "labels_of",
    "list_departments",
    "list_departments_for",
    "list_processes",
    "list_processes_for",
    "rename_department",
    "rename_department_for",
    "set_label_names",
    "set_label_names_for",
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


def create_department_for(session: Session, *, principal: Principal, name: str) -> Department:
    """Create a department; only a workspace admin may."""
    require_workspace(principal, Action.MANAGE_USERS)
    return create_department(session, actor=principal.actor, name=name)


def get_department(session: Session, department_id: int) -> Department:
    """The department with this id, archived or not; NotFound otherwise."""
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(f"department {department_id} not found")
    return department


def list_departments(session: Session, *, include_archived: bool = False) -> list[Department]:
    """Every department, oldest first."""
    return repo.list_departments(session, department_ids=None, include_archived=include_archived)


def list_departments_for(
    session: Session, *, principal: Principal, include_archived: bool = False
) -> list[Department]:
    """The departments where the principal holds a role (every one for a workspace admin)."""
    visible = None if principal.is_workspace_admin else _granted_departments(principal)
    return repo.list_departments(session, department_ids=visible, include_archived=include_archived)


def rename_department(session: Session, *, actor: str, department_id: int, name: str) -> Department:
    """Give a department a new (unique) name."""
    department = get_department(session, department_id)
    name = name.strip()
    if not name:
        raise ValidationFailed("a department needs a name", field="name")
    same = repo.get_department_by_name(session, name)
    if same is not None and same.id != department.id:
        raise Conflict(f"department {name!r} already exists")
    before = snapshot(department)
    department.name = name
    _record_change(session, actor, "department.rename", department, before)
    return department


def rename_department_for(
    session: Session, *, principal: Principal, department_id: int, name: str
) -> Department:
    """Rename a department the principal administers."""
    _require_department(principal, Action.MANAGE_USERS, department_id)
    return rename_department(session, actor=principal.actor, department_id=department_id, name=name)


def archive_department(session: Session, *, actor: str, department_id: int) -> Department:
    """Archive a department with no live process left: it takes no new processes or roles and
    leaves the lists, while its history stays readable."""
    department = get_department(session, department_id)
    if department.archived_at is not None:
        raise Conflict(f"department {department_id} is already archived")
    if repo.list_processes(session, department_ids={department_id}):
        raise Conflict(f"department {department_id} still has processes: archive them first")
    before = snapshot(department)
    department.archived_at = utcnow()
    _record_change(session, actor, "department.archive", department, before)
    return department


def archive_department_for(
    session: Session, *, principal: Principal, department_id: int
) -> Department:
    """Archive a department the principal administers."""
    _require_department(principal, Action.MANAGE_USERS, department_id)
    return archive_department(session, actor=principal.actor, department_id=department_id)


def _require_department(principal: Principal, action: Action, department_id: int) -> None:
    """`require`, naming the department in the NotFound of one the principal cannot see."""
    try:
        require(principal, action, department_id)
    except NotFound:
        raise NotFound(f"department {department_id} not found") from None


def _granted_departments(principal: Principal) -> set[int]:
    return {g.department_id for g in principal.grants if g.department_id is not None}


def _live_department(session: Session, department_id: int) -> Department:
    """The department, refusing an archived one for new processes."""
    department = get_department(session, department_id)
    if department.archived_at is not None:
        raise Conflict(f"department {department_id} is archived")
    return department


def _record_change(
    session: Session, actor: str, action: str, obj: Department | Process, before: object
) -> None:
    """Record a change with its before and after, when something changed."""
    after = snapshot(obj)
    if after != before:
        record_event(session, actor=actor, action=action, obj=obj, before=before, after=after)


def create_process(
    session: Session,
    *,
    actor: str,
    department_id: int,
    name: str,
    labels: list[str],
    data: ProcessCreate | None = None,
    owner_user_id: int | None = None,
) -> Process:
    """Create a process in a live department: in shadow mode with the default policy, or with
    the description, fields, featurizer and policy of `data` (whose department and name
    `department_id`, `name` and `labels` repeat)."""
    _live_department(session, department_id)
    if not name.strip():
        raise ValidationFailed("a process needs a name", field="name")
    process = Process(
        department_id=department_id,
        name=name.strip(),
        labels=_unique(labels),
        owner_user_id=owner_user_id,
    )
    if data is not None:
        _check_featurizer(data.featurizer)
        process.description = data.description
        process.input_fields = list(data.input_fields)
        process.featurizer = data.featurizer.value
        for column, value in data.policy().items():
            setattr(process, column, value)
    session.add(process)
    session.flush()
    after = snapshot(process)
    record_event(session, actor=actor, action="process.create", obj=process, after=after)
    return process


def get_process(session: Session, process_id: int) -> Process:
    """The process with this id, archived or not, for an operator; NotFound otherwise."""
    process = repo.get_process(session, process_id)
    if process is None:
        raise NotFound(f"process {process_id} not found")
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
    _require_department(principal, Action.MANAGE_PROCESS, data.department_id)
    return create_process(
        session,
        actor=principal.actor,
        department_id=data.department_id,
        name=data.name,
        labels=data.labels,
        data=data,
        owner_user_id=principal.user_id,
    )


def list_processes(
    session: Session, *, department_id: int | None = None, include_archived: bool = False
) -> list[Process]:
    """Every process (or one department's) for an operator, oldest first."""
    departments = None if department_id is None else {department_id}
    return repo.list_processes(
        session, department_ids=departments, include_archived=include_archived
    )


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
    return apply_process_changes(session, actor=principal.actor, process=process, changes=changes)


def apply_process_changes(
    session: Session, *, actor: str, process: Process, changes: ProcessUpdate
) -> Process:
    """Apply a partial update to a live process; audited when it changes anything."""
    if process.archived_at is not None:
        raise Conflict(f"process {process.id} is archived")
    values = changes.changes()
    if "labels" in values:
        values["labels"] = _unique(values["labels"])
    if "label_guidance" in values:  # checked against the labels this change leaves
        labels = values.get("labels", process.labels)
        values["label_guidance"] = merged_guidance(
            process.label_guidance, values["label_guidance"], labels
        )
    if "draft_fields" in values:
        values["draft_fields"] = merged_fields(process.draft_fields, values["draft_fields"])
    if "featurizer" in values:
        _check_featurizer(values["featurizer"])
        values["featurizer"] = values["featurizer"].value
    before = snapshot(process)
    for name, value in values.items():
        setattr(process, name, value)
    _record_change(session, actor, "process.update", process, before)
    return process


def set_label_names(
    session: Session, *, actor: str, process: Process, changes: LabelNamesUpdate
) -> list[LabelPublic]:
    """Give a live process's labels readable names (per language; an empty name removes one);
    audited as `process.label_names` when something changed. The labels with their names."""
    if process.archived_at is not None:
        raise Conflict(f"process {process.id} is archived")
    before = {"label_names": dict(process.label_names or {})}
    process.label_names = merged_names(process.label_names, changes.names, process.labels)
    after = {"label_names": process.label_names}
    if after != before:
        record_event(
            session,
            actor=actor,
            action="process.label_names",
            obj=process,
            before=before,
            after=after,
        )
    return labels_of(process)


def set_label_names_for(
    session: Session, *, principal: Principal, process_id: int, changes: LabelNamesUpdate
) -> list[LabelPublic]:
    """`set_label_names` for a caller who may manage the process."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return set_label_names(session, actor=principal.actor, process=process, changes=changes)


def labels_of(process: Process) -> list[LabelPublic]:
    """The process's labels in order, each with the names it has been given."""
    names = process.label_names or {}
    return [
        LabelPublic(
            code=str(code),
            names={lang: named[code] for lang, named in names.items() if named.get(code)},
        )
        for code in process.labels or ()
    ]


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
    return archive_process_as(session, actor=principal.actor, process=process)


def archive_process_as(session: Session, *, actor: str, process: Process) -> Process:
    """Archive a process for an operator (or a checked caller)."""
    if process.archived_at is not None:
        raise Conflict(f"process {process.id} is already archived")
    before = snapshot(process)
    process.archived_at = utcnow()
    _record_change(session, actor, "process.archive", process, before)
    return process


def _unique(labels: list[str]) -> list[str]:
    """Labels in first-seen order without duplicates or blanks."""
    return list(dict.fromkeys(label.strip() for label in labels if label.strip()))
