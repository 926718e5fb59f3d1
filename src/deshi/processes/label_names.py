"""Readable names of a process's labels, per language, with the code behind them.

Stored on the process as `{"en": {code: name}, "ja": {code: name}}`. Per language, because an
English and a Japanese team read different names for the same code (`card_arrival`: "Card
arrival" / "カード未着"); a flat `{code: name}` map per language keeps the admin form (one field
per label and language), the API body and the CLI option (`code=name`) simple.

A label shows its name in the reader's language, else its English name (English is the
workspace's fallback language), else its code humanised (`card_not_arrived` → "Card not
arrived"). The raw code stays the value sent back and the tooltip everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from deshi.errors import ValidationFailed

__all__ = [
    "FALLBACK_LANGUAGE",
    "LANGUAGES",
    "MAX_NAME_CHARS",
    "display_name",
    "humanized",
    "merged_names",
    "namer",
]

LANGUAGES = ("en", "ja")
FALLBACK_LANGUAGE = "en"
MAX_NAME_CHARS = 200

LabelNames = Mapping[str, Mapping[str, str]]


def humanized(code: str) -> str:
    """A code made readable: `card_not_arrived` → "Card not arrived"."""
    words = code.replace("_", " ").replace("-", " ").split()
    if not words:
        return code
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def display_name(names: Mapping[str, Any] | None, code: str, language: str) -> str:
    """The name a reader of `language` sees for the label `code`."""
    for lang in (language, FALLBACK_LANGUAGE):
        named = (names or {}).get(lang) or {}
        if isinstance(named, Mapping) and named.get(code):
            return str(named[code])
    return humanized(code)


def namer(names: Mapping[str, Any] | None, language: str) -> Callable[[str], str]:
    """`display_name` bound to one process's names and one reader's language (for templates)."""
    return lambda code: display_name(names, code, language)


def merged_names(
    current: Mapping[str, Any] | None, changes: LabelNames, labels: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The stored names with `changes` applied: a name sets, an empty one removes (the code
    shows again). ValidationFailed naming `names` for an unknown language or label, or a name
    too long."""
    known = set(labels)
    result = {lang: dict((current or {}).get(lang) or {}) for lang in LANGUAGES}
    for language, names in changes.items():
        if language not in LANGUAGES:
            raise ValidationFailed(
                f"unknown language {language!r}; names are given for {', '.join(LANGUAGES)}",
                field="names",
            )
        for code, name in names.items():
            if code not in known:
                raise ValidationFailed(f"{code!r} is not a label of this process", field="names")
            cleaned = " ".join(name.split())
            if len(cleaned) > MAX_NAME_CHARS:
                raise ValidationFailed(
                    f"the name of {code!r} is longer than {MAX_NAME_CHARS} characters",
                    field="names",
                )
            if cleaned:
                result[language][code] = cleaned
            else:
                result[language].pop(code, None)
    return {lang: named for lang, named in result.items() if named}
