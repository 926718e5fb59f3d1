"""A process to import history into, with an admin and an agent registry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import User
from deshi.domain import Role
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Grant, Principal
from deshi.processes.service import create_department, create_process


@dataclass
class Desk:
    """A process to import history into, with an admin and an agent registry."""

    factory: sessionmaker[Session]
    process_id: int
    department_id: int
    admin: Principal
    registry: AgentRegistry


def make_desk(factory: sessionmaker[Session], labels: list[str] | None = None) -> Desk:
    """A process with `labels` (none: it takes the history's), in shadow mode."""
    with transaction(factory) as session:
        department = create_department(session, actor="user:1", name="Support")
        process = create_process(
            session,
            actor="user:1",
            department_id=department.id,
            name="routing",
            labels=labels or [],
        )
        admin = User(email="admin@example.com", display_name="Admin")
        session.add(admin)
        session.flush()
        principal = Principal.of(admin.id, [Grant(Role.ADMIN, None)])
        return Desk(factory, process.id, department.id, principal, AgentRegistry())
