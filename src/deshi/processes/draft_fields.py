"""A process's drafting fields: values it wants filled from its documents for each item, beside
its label and its reply, in the owner's words (`{"refund_deadline": "How many days the customer
has to ask for a refund"}`).

Stored on the process as `{name: instruction}`. A draft request may name one field instead of
asking for a reply (`deshi.drafting.service`): the drafter is asked for that value, short and
cited like a reply. The instruction is the company's, so the language-model drafters take it as
an instruction, not as data. A name is an identifier (it is a key in scripts and forms), each
instruction is bounded (it goes into a prompt, and every audit snapshot of the process holds the
whole map), and so is the number of fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from deshi.errors import ValidationFailed
from deshi.processes.owner_texts import merged_texts

__all__ = [
    "FIELD_NAME_PATTERN",
    "MAX_DRAFT_FIELDS",
    "MAX_FIELD_NAME_CHARS",
    "MAX_INSTRUCTION_CHARS",
    "instruction_for",
    "merged_fields",
]

MAX_DRAFT_FIELDS: Final = 50
MAX_FIELD_NAME_CHARS: Final = 64
MAX_INSTRUCTION_CHARS: Final = 1000
FIELD_NAME_PATTERN: Final = rf"^[A-Za-z_][A-Za-z0-9_]{{0,{MAX_FIELD_NAME_CHARS - 1}}}$"
_NAME: Final = re.compile(FIELD_NAME_PATTERN)
_FIELD: Final = "draft_fields"


def merged_fields(current: Mapping[str, Any] | None, changes: Mapping[str, str]) -> dict[str, str]:
    """The stored fields with `changes` applied: an instruction sets (trimmed), an empty one
    removes. Refused (ValidationFailed naming `draft_fields`) for a name that is not an
    identifier (letters, digits, `_`, at most MAX_FIELD_NAME_CHARS), an instruction longer than
    MAX_INSTRUCTION_CHARS, or more than MAX_DRAFT_FIELDS fields."""
    return merged_texts(
        current,
        changes,
        key=_field_name,
        noun="instruction",
        max_chars=MAX_INSTRUCTION_CHARS,
        max_entries=MAX_DRAFT_FIELDS,
        too_many=f"a process has at most {MAX_DRAFT_FIELDS} fields",
        field=_FIELD,
    )


def _field_name(given: str) -> str:
    name = given.strip()
    if not _NAME.match(name):
        raise ValidationFailed(
            f"{given!r} is not a field name (letters, digits and _, not starting with a "
            f"digit, at most {MAX_FIELD_NAME_CHARS} characters)",
            field=_FIELD,
        )
    return name


def instruction_for(stored: Mapping[str, Any] | None, name: str) -> str | None:
    """The instruction of field `name`, or None when the process has no such field."""
    text = (stored or {}).get(name)
    return text if isinstance(text, str) and text else None
