"""Translatable, data-carrying sentences: a stable code, its parameters, and an English message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Param", "Reason"]

Param = str | int | float


@dataclass(frozen=True, slots=True)
class Reason:
    """Why something was recommended or required; `code` + `params` are what a translation needs."""

    code: str
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)
