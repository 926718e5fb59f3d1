"""Always-human rules: which rule, if any, forces an item to a human.

A process stores its rules in `always_human_rules` in any of these shapes (all may be mixed):

- a mapping ``{"name": "regex", ...}`` (name → pattern searched in the item's text);
- a list of ``{"name": ..., "pattern": ...}`` (or ``"regex"``), optionally with ``"field"`` to
  search a structured field instead of the text;
- a list of ``{"field": ..., "op": ">", "value": ...}`` comparisons on structured fields
  (ops: ``> >= < <= == != in contains``); the name defaults to ``"field op value"``.

The first matching rule's name is returned, in the order stored.

Patterns are RE2 (`deshi.processes.rule_patterns`): a search is linear in the text, whatever the
pattern. A stored pattern RE2 refuses (one saved before RE2, with a backreference or lookaround)
fails closed: it matches every item, so the items it was meant to catch still reach a human,
and a warning names the rule until an owner rewrites it.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deshi.processes.rule_patterns import compile_pattern

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

logger = logging.getLogger("deshi.learning")


@dataclass(frozen=True, slots=True)
class Rule:
    """One always-human rule: a regex on text/field, or a comparison on a field; `everything`
    marks a stored pattern that no longer compiles (it matches every item)."""

    name: str
    pattern: Any = None  # a compiled RE2 program (the binding has no type stubs)
    field: str | None = None
    op: str | None = None
    value: Any = None
    everything: bool = False

    def matches(self, text: str, fields: Mapping[str, Any]) -> bool:
        """True when the item must go to a human because of this rule."""
        if self.everything:
            return True
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
        return [_pattern_rule(str(name), str(rx)) for name, rx in stored.items()]
    rules: list[Rule] = []
    for entry in stored or []:
        if isinstance(entry, str):
            rules.append(_pattern_rule(entry, entry))
        elif isinstance(entry, Mapping):
            rules.append(_rule_from_mapping(entry))
    return rules


def _rule_from_mapping(entry: Mapping[str, Any]) -> Rule:
    field = entry.get("field")
    regex = entry.get("pattern", entry.get("regex"))
    if regex is not None:
        name = entry.get("name") or str(regex)
        return _pattern_rule(str(name), str(regex), field=field)
    op, value = entry.get("op"), entry.get("value")
    name = entry.get("name") or f"{field} {op} {value}"
    return Rule(str(name), field=field, op=op, value=value)


def _pattern_rule(name: str, pattern: str, *, field: str | None = None) -> Rule:
    try:
        return Rule(name, compile_pattern(pattern), field=field)
    except ValueError as exc:
        logger.warning(
            "always-human rule %r matches every item until it is rewritten: %s", name, exc
        )
        return Rule(name, field=field, everything=True)


def first_match(rules: list[Rule], text: str, fields: Mapping[str, Any]) -> str | None:
    """Name of the first rule the item matches, or None."""
    return next((rule.name for rule in rules if rule.matches(text, fields)), None)
