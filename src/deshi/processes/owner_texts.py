"""Maps of short texts a process owner writes, keyed by a label or a name: the drafting guidance
per label and the drafting fields' instructions. Both are edited the same way, a few entries at a
time, and bounded the same way (each goes into a prompt, and every audit snapshot of the process
holds the whole map)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deshi.errors import ValidationFailed

__all__ = ["cleaned", "merged_texts"]


def cleaned(text: str) -> str:
    """The text as stored: Unix line breaks (a form posts CRLF), no blank edges."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def merged_texts(
    current: Mapping[str, Any] | None,
    changes: Mapping[str, str],
    *,
    key: Callable[[str], str],
    noun: str,
    max_chars: int,
    max_entries: int,
    too_many: str,
    field: str,
) -> dict[str, str]:
    """The stored map with `changes` applied: a text sets (cleaned), an empty one removes.

    `key` turns a key as given into the key stored, or raises ValidationFailed. A text longer
    than `max_chars` (the message calls it the `noun` for its key) and more than `max_entries`
    entries (the message is `too_many`) are refused with ValidationFailed naming `field`.
    """
    result = {str(name): str(text) for name, text in (current or {}).items()}
    for given, text in changes.items():
        name = key(given)
        value = cleaned(text)
        if len(value) > max_chars:
            raise ValidationFailed(
                f"the {noun} for {name!r} is longer than {max_chars} characters", field=field
            )
        if value:
            result[name] = value
        else:
            result.pop(name, None)
    if len(result) > max_entries:
        raise ValidationFailed(too_many, field=field)
    return result
