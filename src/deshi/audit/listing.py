"""Reading the audit log, scoped to the departments whose log the reader may read.

A workspace admin reads every event. Anyone else reads the events about objects of the
departments where a role of theirs allows `read_audit` (owner, auditor, admin there); which
department an event is about is stored with it (see `deshi.audit.departments`). Events about
users and API tokens belong to no department: only workspace admins read them.
The chain itself is one for the whole workspace, so `verify_chain` still checks every event.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from deshi.db.tables import AuditEvent
from deshi.errors import PermissionDenied
from deshi.permissions import Action, Principal, can

__all__ = ["audit_departments", "list_events"]


def audit_departments(principal: Principal) -> frozenset[int] | None:
    """The departments whose events the principal may read; None: every event (workspace
    admin). PermissionDenied when there are none."""
    if can(principal, Action.READ_AUDIT, None):
        return None
    departments = frozenset(
        g.department_id
        for g in principal.grants
        if g.department_id is not None and can(principal, Action.READ_AUDIT, g.department_id)
    )
    if not departments:
        raise PermissionDenied("reading the audit log needs the auditor, owner or admin role")
    return departments


def list_events(
    session: Session,
    *,
    departments: Collection[int] | None,
    before: int | None,
    limit: int,
) -> list[AuditEvent]:
    """The newest events (older than seq `before`, if given) about objects of `departments`;
    every event when `departments` is None."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    if departments is not None:
        query = query.where(_about(departments))
    return list(session.scalars(query))


def _about(departments: Collection[int]) -> ColumnElement[bool]:
    """True for events about an object of one of `departments`."""
    if not departments:
        return false()
    return AuditEvent.department_id.in_(sorted(departments))
