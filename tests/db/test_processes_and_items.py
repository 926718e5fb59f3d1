from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import AuditEvent
from deshi.domain import Mode, Role
from deshi.errors import Conflict, NotFound, PermissionDenied
from deshi.items.repo import get_by_external_id, insert_item
from deshi.permissions import Action, Grant, Principal
from deshi.processes.service import create_department, create_process, get_process_for


def test_create_process_starts_in_shadow_mode_and_is_audited(session: Session) -> None:
    department = create_department(session, actor="user:1", name="Finance")
    process = create_process(
        session, actor="user:1", department_id=department.id, name="invoice code", labels=["a"]
    )
    assert process.mode is Mode.SHADOW
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions == ["department.create", "process.create"]
    with pytest.raises(Conflict):
        create_department(session, actor="user:1", name="Finance")


def test_other_departments_processes_are_not_found(session: Session) -> None:
    mine = create_department(session, actor="user:1", name="Mine")
    theirs = create_department(session, actor="user:1", name="Theirs")
    own = create_process(session, actor="user:1", department_id=mine.id, name="p", labels=[])
    other = create_process(session, actor="user:1", department_id=theirs.id, name="q", labels=[])
    reviewer = Principal.of(5, [Grant(Role.REVIEWER, mine.id)])
    assert get_process_for(session, reviewer, own.id) is own
    with pytest.raises(PermissionDenied):
        get_process_for(session, reviewer, own.id, Action.MANAGE_PROCESS)
    with pytest.raises(NotFound) as invisible:
        get_process_for(session, reviewer, other.id, Action.MANAGE_PROCESS)
    with pytest.raises(NotFound) as missing:
        get_process_for(session, reviewer, 99_999)
    assert "not found" in str(invisible.value) and "not found" in str(missing.value)


def test_duplicate_external_id_is_a_conflict(session: Session) -> None:
    department = create_department(session, actor="user:1", name="Ops")
    process = create_process(
        session, actor="user:1", department_id=department.id, name="p", labels=[]
    )
    item = insert_item(session, process_id=process.id, external_id="T-1", text="hello")
    assert get_by_external_id(session, process.id, "T-1") is item
    with pytest.raises(Conflict):
        insert_item(session, process_id=process.id, external_id="T-1", text="again")
    insert_item(session, process_id=process.id, text="no external id")
    insert_item(session, process_id=process.id, text="nor this one")
