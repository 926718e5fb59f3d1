"""Model versions as people see them: list a process's versions with their metrics, roll one
back in; each checks the caller's permission (read; manage models)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import ModelVersion
from deshi.learning.service import rollback
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["list_versions", "list_versions_for", "rollback_for"]


def list_versions(session: Session, process_id: int) -> list[ModelVersion]:
    """Every stored version of a process, newest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.process_id == process_id)
            .order_by(ModelVersion.version.desc())
        )
    )


def list_versions_for(
    session: Session, *, principal: Principal, process_id: int
) -> list[ModelVersion]:
    """The versions of a process the principal can see."""
    get_process_for(session, principal, process_id, Action.READ)
    return list_versions(session, process_id)


def rollback_for(
    session: Session, *, principal: Principal, process_id: int, version: int
) -> ModelVersion:
    """Make an earlier version the champion again (audited); needs manage_models."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_MODELS)
    return rollback(session, process=process, version=version, actor=principal.actor)
