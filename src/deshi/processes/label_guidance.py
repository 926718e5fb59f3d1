"""A process owner's drafting guidance per label: what a reply to an item of that label should
do ("apologise once, give the tracking link, never promise a date"), in the owner's words.

Stored on the process as `{code: text}`. The drafters that write with a language model put the
guidance of the item's label into their instructions (`deshi.drafting.remote`): it comes from
the company, so unlike the item's text and the passages it is trusted, not quoted data. Each
text is bounded (a prompt has a context window, and every audit snapshot of the process holds
the whole map), and so is the number of labels that have one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from deshi.errors import ValidationFailed
from deshi.processes.owner_texts import merged_texts

__all__ = [
    "MAX_GUIDANCE_CHARS",
    "MAX_GUIDED_LABELS",
    "guidance_for",
    "merged_guidance",
]

MAX_GUIDANCE_CHARS: Final = 2000
MAX_GUIDED_LABELS: Final = 200
_FIELD: Final = "label_guidance"


def merged_guidance(
    current: Mapping[str, Any] | None, changes: Mapping[str, str], labels: Iterable[str]
) -> dict[str, str]:
    """The stored guidance with `changes` applied: a text sets, an empty one removes. Refused
    (ValidationFailed naming `label_guidance`) for a label the process does not have, a text
    longer than MAX_GUIDANCE_CHARS, or more than MAX_GUIDED_LABELS labels with guidance."""
    known = set(labels)

    def label(code: str) -> str:
        if code not in known:
            raise ValidationFailed(f"{code!r} is not a label of this process", field=_FIELD)
        return code

    return merged_texts(
        current,
        changes,
        key=label,
        noun="guidance",
        max_chars=MAX_GUIDANCE_CHARS,
        max_entries=MAX_GUIDED_LABELS,
        too_many=f"at most {MAX_GUIDED_LABELS} labels may have drafting guidance",
        field=_FIELD,
    )


def guidance_for(stored: Mapping[str, Any] | None, label: str | None) -> str:
    """The guidance for `label` ("" when there is none, or no label)."""
    if label is None:
        return ""
    text = (stored or {}).get(label)
    return text if isinstance(text, str) else ""
