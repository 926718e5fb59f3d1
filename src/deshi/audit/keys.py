"""The audit keys a session appends and verifies with, and the id each key is known by.

The keys come from `DESHI_AUDIT_KEY` or `DESHI_AUDIT_KEY_FILE` (`Settings.audit_keys()`) and
ride on the engine as an execution option (`deshi.db.engine.AUDIT_KEYS`), so every session of
the app, the worker and the CLI has them without each caller passing them on. The first key
keys new events and signs anchors; the others only verify (events keyed before a rotation).
A key is named by its id, an HMAC of a fixed text under it: the id says which key made an
event's hash without revealing anything that would let anyone recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from deshi.audit.chain import keyed_digest
from deshi.db.engine import AUDIT_KEYS

__all__ = ["AuditKeyring", "key_id_of", "keyring_of"]

_KEY_ID_CHARS = 16  # 64 bits: enough to tell a handful of keys apart


def key_id_of(key: bytes) -> str:
    """The public name of an audit key."""
    return keyed_digest(key, b"deshi audit key id")[:_KEY_ID_CHARS]


@dataclass(frozen=True, slots=True)
class AuditKeyring:
    """Audit keys by id; `current` keys new events and anchors (None: no key configured)."""

    keys: tuple[bytes, ...] = ()
    _by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {key_id_of(key): key for key in reversed(self.keys)})

    @property
    def current(self) -> tuple[str, bytes] | None:
        """(key id, key) of the key new events are keyed with."""
        return (key_id_of(self.keys[0]), self.keys[0]) if self.keys else None

    def get(self, key_id: str) -> bytes | None:
        """The key with this id, if configured."""
        return self._by_id.get(key_id)


def keyring_of(session: Session) -> AuditKeyring:
    """The audit keys of the engine the session is bound to."""
    keys = session.get_bind().get_execution_options().get(AUDIT_KEYS, ())
    return AuditKeyring(tuple(keys))
