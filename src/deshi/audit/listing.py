"""Reading the audit log, scoped to the departments whose log the reader may read.

A workspace admin reads every event. Anyone else reads the events about objects of the
departments where a role of theirs allows `read_audit` (owner, auditor, admin there):

    object type            department found through
    departments            the department itself
    processes              the process
    items, reviews         the item's process
    model_versions         the version's process
    webhooks               the webhook's process
    role_grants,           the `department_id` in the event's own snapshot (the row may be
    inventory_candidates   deleted since; workspace-wide grants have none)

Events about users and API tokens belong to no department: only workspace admins read them.
The chain itself is one for the whole workspace, so `verify_chain` still checks every event.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, String, and_, cast, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from deshi.auth.permissions import Action, Principal, can
from deshi.db.models import AuditEvent, Department, Item, ModelVersion, Process, Review, Webhook
from deshi.errors import PermissionDenied

__all__ = ["audit_departments", "list_events"]

# Deleted rows leave their department only in the snapshot the event recorded.
_SNAPSHOT_SCOPED = ("role_grants", "inventory_candidates")


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
    """True for events about an object of one of `departments` (see the module docs)."""
    if not departments:
        return false()
    processes = select(Process.id).where(Process.department_id.in_(departments))
    # object_id is the primary key as text (see ObjectRef.of): compare it with ids as text.
    ids: dict[str, Select[str]] = {
        "departments": select(_text(Department.id)).where(Department.id.in_(departments)),
        "processes": select(_text(Process.id)).where(Process.department_id.in_(departments)),
        "items": select(_text(Item.id)).where(Item.process_id.in_(processes)),
        "reviews": select(_text(Review.id)).join(Item).where(Item.process_id.in_(processes)),
        "model_versions": select(_text(ModelVersion.id)).where(
            ModelVersion.process_id.in_(processes)
        ),
        "webhooks": select(_text(Webhook.id)).where(Webhook.process_id.in_(processes)),
    }
    by_row = [
        and_(AuditEvent.object_type == kind, AuditEvent.object_id.in_(query))
        for kind, query in ids.items()
    ]
    snapshot_department = func.coalesce(
        AuditEvent.after["department_id"].as_integer(),
        AuditEvent.before["department_id"].as_integer(),
    )
    by_snapshot = and_(
        AuditEvent.object_type.in_(_SNAPSHOT_SCOPED), snapshot_department.in_(departments)
    )
    return or_(*by_row, by_snapshot)


def _text(column: InstrumentedAttribute[int]) -> ColumnElement[str]:
    return cast(column, String)
