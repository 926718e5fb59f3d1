"""The pure part of the audit chain: canonical JSON and the hash linking each event to the last.

An event's hash is the SHA-256 of its canonical JSON (with the previous event's hash), or, when
the chain is keyed, the HMAC-SHA256 of it under an audit key; a keyed event's JSON also names
the key (`key_id`), so a keyed event cannot pass for an unkeyed one. See `deshi.audit.keys`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "EventFields",
    "canonical_json",
    "event_hash",
    "keyed_digest",
    "to_json_value",
]

GENESIS_HASH = "0" * 64  # prev_hash of the first event


def _default(value: object) -> object:
    """JSON encoding for the few non-JSON types that appear in snapshots."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"not JSON-serialisable in an audit event: {type(value).__name__}")


def canonical_json(value: object) -> str:
    """One byte-exact JSON form: sorted keys, no spaces, UTF-8 kept, NaN/Infinity refused."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def to_json_value(value: object) -> Any:
    """The value as it will read back from a JSON column, so the stored form is what was hashed."""
    return None if value is None else json.loads(canonical_json(value))


@dataclass(frozen=True, slots=True)
class EventFields:
    """The hashed content of one audit event.

    Events written since the department became part of the hash ("scoped") cover their
    `department_id`, so moving an event out of a department's view breaks the chain. Older events
    were hashed without it; their department is a reading scope only (see `deshi.audit.service`).
    """

    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    department_id: int | None
    key_id: str | None = None  # the audit key that hashes it; None: plain SHA-256

    def canonical(self, prev_hash: str, *, scoped: bool = True) -> str:
        """Canonical JSON of the fields plus the previous event's hash (`scoped`: with the
        department; False gives the form events had before it was hashed)."""
        content: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.astimezone(UTC).isoformat(),
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "before": self.before,
            "after": self.after,
            "prev_hash": prev_hash,
        }
        if scoped:
            content["department_id"] = self.department_id
        if self.key_id is not None:
            content["key_id"] = self.key_id
        return canonical_json(content)


def event_hash(
    fields: EventFields, prev_hash: str, *, scoped: bool = True, key: bytes | None = None
) -> str:
    """The event's hash (hex) over its canonical JSON including prev_hash: HMAC-SHA256 under
    `key` for a keyed event (`fields.key_id` set), else SHA-256."""
    canonical = fields.canonical(prev_hash, scoped=scoped).encode("utf-8")
    if fields.key_id is None:
        return hashlib.sha256(canonical).hexdigest()
    if key is None:
        raise ValueError("a keyed event needs its key to be hashed")
    return keyed_digest(key, b"deshi audit event\n" + canonical)


def keyed_digest(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 (hex) of `message`; callers prefix what the message is, so a digest made
    for one purpose (an event, an anchor, a key id) never stands in for another."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()
