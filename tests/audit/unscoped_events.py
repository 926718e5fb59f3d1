"""Audit events in the form deshi wrote before their department was part of the hash."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deshi.audit.chain import EventFields, event_hash
from deshi.db.base import utcnow
from deshi.db.tables import AuditEvent


def append_unscoped(session: Session, seq: int, prev_hash: str, department_id: int) -> str:
    """An event as deshi wrote it before departments were hashed (filled in by migration 0004)."""
    fields = EventFields(
        seq=seq,
        at=utcnow(),
        actor="user:1",
        action="department.update",
        object_type="departments",
        object_id=str(department_id),
        before=None,
        after={"name": f"d{seq}"},
        department_id=department_id,
    )
    digest = event_hash(fields, prev_hash, scoped=False)
    session.add(
        AuditEvent(
            seq=seq,
            at=fields.at,
            actor=fields.actor,
            action=fields.action,
            object_type=fields.object_type,
            object_id=fields.object_id,
            before=fields.before,
            after=fields.after,
            prev_hash=prev_hash,
            hash=digest,
            department_id=department_id,
        )
    )
    return digest
