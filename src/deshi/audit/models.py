"""The audit API's schemas: events as read, a page of them, and the signed head (an anchor).

The filters (query parameters) are `deshi.audit.query`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from deshi.audit.anchor import ANCHOR_FORMAT, Anchor
from deshi.audit.names import Names, actor_name, object_name
from deshi.db.tables import AuditEvent

__all__ = ["AuditAnchorPublic", "AuditEventPage", "AuditEventPublic"]


class AuditEventPublic(BaseModel):
    """One audit event as stored (the hashed fields, its links) with names for people."""

    seq: int
    at: datetime = Field(description="When it was written (UTC).")
    actor: str = Field(description="Who acted, as stored: `user:3`, `cli:ops`, `system:init`.")
    actor_name: str = Field(description="The actor's display name (or the actor as stored).")
    action: str
    object_type: str
    object_id: str
    object_name: str = Field(description="A name for the object, as far as it is known.")
    department_id: int | None
    before: Any = Field(description="The object's fields before the change (null: created).")
    after: Any = Field(description="The object's fields after the change (null: deleted).")
    prev_hash: str
    hash: str
    key_id: str | None = Field(description="The audit key that made the hash; null: SHA-256.")

    @classmethod
    def of(cls, event: AuditEvent, names: Names) -> AuditEventPublic:
        """A stored event with the names of its actor and object."""
        return cls(
            seq=event.seq, at=event.at, actor=event.actor,
            actor_name=actor_name(event.actor, names), action=event.action,
            object_type=event.object_type, object_id=event.object_id,
            object_name=object_name(event, names), department_id=event.department_id,
            before=event.before, after=event.after, prev_hash=event.prev_hash, hash=event.hash,
            key_id=event.key_id,
        )  # fmt: skip


class AuditEventPage(BaseModel):
    """A page of events, newest first, and the seqs to ask for the pages beside it."""

    events: list[AuditEventPublic]
    older: int | None = Field(description="Pass as `before` for the next (older) page.")
    newer: int | None = Field(description="Pass as `after` for the previous (newer) page.")


class AuditAnchorPublic(BaseModel):
    """The audit log's head signed with the audit key: save the body as a file and check it
    later with `deshi audit verify --anchor FILE`."""

    format: str = Field(default=ANCHOR_FORMAT, description="Always `deshi-audit-anchor/1`.")
    seq: int = Field(description="Sequence number of the newest event (0: the log is empty).")
    hash: str = Field(description="That event's hash (hex): it pins every event before it.")
    event_at: datetime | None = Field(description="When that event was written.")
    anchored_at: datetime = Field(description="When the head was verified and signed.")
    keyed_from: int | None = Field(
        description="Sequence number of the first event keyed with an audit key (HMAC-SHA256)."
    )
    key_id: str = Field(description="Public id of the audit key that signed this anchor.")
    signature: str = Field(description="HMAC-SHA256 (hex) of the other fields under that key.")

    @classmethod
    def of(cls, anchor: Anchor) -> AuditAnchorPublic:
        """The schema of an anchor, field for field as the anchor file has them."""
        document: dict[str, Any] = anchor.to_json()
        return cls.model_validate(document)
