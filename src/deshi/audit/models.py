"""The audit API's schemas: the signed head of the log (an anchor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from deshi.audit.anchor import ANCHOR_FORMAT, Anchor

__all__ = ["AuditAnchorPublic"]


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
