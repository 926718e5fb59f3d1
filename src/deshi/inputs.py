"""What every request body must be before a service sees it: storable on both databases.

`InputModel` is the base of every input schema (request bodies and the parts they nest):

- unknown fields are refused (`extra="forbid"`);
- numbers are finite: `Infinity`, `NaN` and overflowing literals such as `1e400` (which JSON
  parsers read as infinity) are refused in typed fields (`allow_inf_nan=False`) and inside
  free-form values (`fields`, a rule's `value`) alike;
- texts hold no lone surrogate (`"\\ud800"` in JSON): such a string cannot be encoded as UTF-8,
  so neither database could store it.

`validated` is how the forms and the CLI's options are checked against the same schemas as the
API's bodies: a refusal is `ValidationFailed` naming the first invalid field.

`DbId` bounds an object id in a body to what an id column holds (1 … 2^31 − 1); the web layer's
path parameter type (`deshi.web.params.PathId`) has the same bounds. Each failure is a
validation error on the field that carries the value, and the API answers 422 naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deshi.errors import ValidationFailed

__all__ = ["MAX_ID", "DbId", "InputModel", "unstorable", "validated"]

_Model = TypeVar("_Model", bound=BaseModel)

MAX_ID = 2**31 - 1  # id columns are INTEGER: 4 bytes on PostgreSQL (a larger id is a 500 there)

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def validated(model: type[_Model], fields: Mapping[str, Any]) -> _Model:
    """`fields` as a `model`, validated like an API body; ValidationFailed("field: why")
    naming the first invalid field otherwise."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationFailed(f"{field or 'input'}: {first['msg']}", field=field) from None


def unstorable(value: Any) -> str | None:
    """Why `value` (a JSON-like tree) cannot be stored, naming where in it, or None.

    Walks iteratively, so a deeply nested value cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:  # PostgreSQL's text and json types cannot hold it
                return f"{path or 'value'}: a NUL character (U+0000) cannot be stored"
            if not node.isascii() and _has_surrogate(node):
                return f"{path or 'value'}: a lone surrogate is not text (U+D800–U+DFFF)"
        elif isinstance(node, float):
            if not math.isfinite(node):
                return f"{path or 'value'}: numbers must be finite (no Infinity or NaN)"
        elif isinstance(node, Mapping):
            for key, child in node.items():
                if isinstance(key, str) and "\x00" in key:
                    return f"{path or 'value'}: a NUL character (U+0000) cannot be stored"
                if isinstance(key, str) and not key.isascii() and _has_surrogate(key):
                    return f"{path or 'value'}: a lone surrogate is not text (U+D800–U+DFFF)"
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(node))
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class InputModel(BaseModel):
    """Base of every input schema: no unknown fields, finite numbers, encodable texts."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # Nested InputModels ran this on their own fields already; skip their contents.
        if isinstance(value, BaseModel):
            return value
        if isinstance(value, list | tuple) and value and isinstance(value[0], BaseModel):
            return value
        problem = unstorable(value)
        if problem is not None:
            raise ValueError(problem)
        return value
