"""Model version routes: list a process's versions with their metrics, roll one back in."""

from __future__ import annotations

from fastapi import APIRouter

from deshi.learning import versions
from deshi.learning.models import ModelVersionPublic
from deshi.web.deps import PrincipalDep, SessionDep
from deshi.web.params import PathId

__all__ = ["router"]

router = APIRouter(prefix="/processes/{process_id}/models", tags=["models"])


@router.get("", response_model=list[ModelVersionPublic])
def list_versions(process_id: PathId, session: SessionDep, principal: PrincipalDep) -> object:
    """Every stored version, newest first, with its metrics and threshold."""
    return versions.list_versions_for(session, principal=principal, process_id=process_id)


@router.post("/{version}/rollback", response_model=ModelVersionPublic)
def rollback(
    process_id: PathId, version: PathId, session: SessionDep, principal: PrincipalDep
) -> object:
    """Make an earlier version the champion again (audited)."""
    return versions.rollback_for(
        session, principal=principal, process_id=process_id, version=version
    )
