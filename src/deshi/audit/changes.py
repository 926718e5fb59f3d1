"""What an audit event changed, field by field, for people to read.

Events keep the whole object before and after the change (`snapshot`); most fields did not
change. `changes` lists only those that did: added (no before), removed (no after) or changed,
each value as text (strings as they are, anything else as compact JSON). Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deshi.audit.chain import canonical_json

__all__ = ["Change", "Changes", "changes"]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One field's value before and after (None: the field was absent on that side)."""

    field: str  # "" when the event's before/after is not an object
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class Changes:
    """The fields that changed, and how many stayed the same."""

    fields: tuple[Change, ...]
    unchanged: int


def _text(value: Any) -> str | None:
    if value is _MISSING:
        return None
    return value if isinstance(value, str) else canonical_json(value)


def changes(before: Any, after: Any) -> Changes:
    """The difference between an event's before and after."""
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        fields = []
        unchanged = 0
        for name in sorted(old.keys() | new.keys()):
            was, now = old.get(name, _MISSING), new.get(name, _MISSING)
            if was == now and type(was) is type(now):
                unchanged += 1
            else:
                fields.append(Change(name, _text(was), _text(now)))
        return Changes(tuple(fields), unchanged)
    if before == after:
        return Changes((), 0)
    old_text = None if before is None else _text(before)
    new_text = None if after is None else _text(after)
    return Changes((Change("", old_text, new_text),), 0)
