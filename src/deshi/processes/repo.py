"""SQL for processes and departments only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import Department, Process

__all__ = ["get_department_by_name", "get_process", "list_departments", "list_processes"]


def get_process(session: Session, process_id: int) -> Process | None:
    """The process with this id, archived or not."""
    return session.get(Process, process_id)


def get_department_by_name(session: Session, name: str) -> Department | None:
    """The department with this exact name, if any."""
    return session.scalars(select(Department).where(Department.name == name)).one_or_none()


def list_processes(
    session: Session, *, department_ids: set[int] | None, include_archived: bool = False
) -> list[Process]:
    """Processes in the given departments (None: every department), oldest first."""
    query = select(Process).order_by(Process.id)
    if department_ids is not None:
        query = query.where(Process.department_id.in_(sorted(department_ids)))
    if not include_archived:
        query = query.where(Process.archived_at.is_(None))
    return list(session.scalars(query))


def list_departments(
    session: Session, *, department_ids: set[int] | None, include_archived: bool = False
) -> list[Department]:
    """Departments among `department_ids` (None: all), oldest first."""
    query = select(Department).order_by(Department.id)
    if department_ids is not None:
        query = query.where(Department.id.in_(sorted(department_ids)))
    if not include_archived:
        query = query.where(Department.archived_at.is_(None))
    return list(session.scalars(query))
