"""Always-human rules: which rule, if any, forces an item to a human.

A process stores its rules in `always_human_rules` in any of these shapes (all may be mixed):

- a mapping ``{"name": "regex", ...}`` (name → pattern searched in the item's text);
- a list of ``{"name": ..., "pattern": ...}`` (or ``"regex"``), optionally with ``"field"`` to
  search a structured field instead of the text;
- a list of ``{"field": ..., "op": ">", "value": ...}`` comparisons on structured fields
  (ops: ``> >= < <= == != in contains``); the name defaults to ``"field op value"``.

The first matching rule's name is returned, in the order stored.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Rule", "first_match", "parse_rules"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda a, b: a in b,
    "contains": lambda a, b: b in a,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One always-human rule: a regex on text/field, or a comparison on a field."""

    name: str
    pattern: re.Pattern[str] | None = None
    field: str | None = None
    op: str | None = None
    value: Any = None

    def matches(self, text: str, fields: Mapping[str, Any]) -> bool:
        """True when the item must go to a human because of this rule."""
        subject: Any = text if self.field is None else fields.get(self.field)
        if self.pattern is not None:
            return subject is not None and self.pattern.search(str(subject)) is not None
        if subject is None or self.op not in _OPS:
            return False
        try:
            return bool(_OPS[self.op](subject, self.value))
        except TypeError:  # e.g. comparing a string field with a number: not a match
            return False


def parse_rules(stored: Any) -> list[Rule]:
    """Rules from a process's `always_human_rules` column (see the module docs for shapes)."""
    if isinstance(stored, Mapping):
        return [Rule(str(name), re.compile(str(rx), re.IGNORECASE)) for name, rx in stored.items()]
    rules: list[Rule] = []
    for entry in stored or []:
        if isinstance(entry, str):
            rules.append(Rule(entry, re.compile(entry, re.IGNORECASE)))
        elif isinstance(entry, Mapping):
            rules.append(_rule_from_mapping(entry))
    return rules


def _rule_from_mapping(entry: Mapping[str, Any]) -> Rule:
    field = entry.get("field")
    regex = entry.get("pattern", entry.get("regex"))
    if regex is not None:
        name = entry.get("name") or str(regex)
        return Rule(str(name), re.compile(str(regex), re.IGNORECASE), field=field)
    op, value = entry.get("op"), entry.get("value")
    name = entry.get("name") or f"{field} {op} {value}"
    return Rule(str(name), field=field, op=op, value=value)


def first_match(rules: list[Rule], text: str, fields: Mapping[str, Any]) -> str | None:
    """Name of the first rule the item matches, or None."""
    return next((rule.name for rule in rules if rule.matches(text, fields)), None)
