"""Draft notes as sentences: the one place a note's key becomes words.

A draft's notes say what happened while it was made: the model failed and the extractive
fallback answered, the local model is missing, instructions were found in the data so nothing
was sent, the owner's guidance for the label was or was not followed. Each kind has a stable
`NoteKey` and one English sentence, written here once as a msgid and translated in deshi/locale.

`Draft.notes` and the API's `DraftPublic.notes` keep the English sentence, as they always did;
`read_note` maps a known sentence back to its key and parameters (`DraftPublic.note_keys`), so
a page renders it in the viewer's language with `note_sentence`. A sentence no key matches (one
written before the keys, or by a drafter that adds its own) is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from deshi.i18n import DEFAULT_LOCALE, translations

__all__ = [
    "DRAFTER_NAMES",
    "NOTE_SENTENCES",
    "DraftNote",
    "NoteKey",
    "note",
    "note_sentence",
    "read_note",
]


def _n_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered."""
    return message


class NoteKey(StrEnum):
    """What a draft's note says happened."""

    MODEL_FAILED = "model_failed"
    LOCAL_MODEL_MISSING = "local_model_missing"
    INJECTION_BLOCKED = "injection_blocked"
    GUIDANCE_FOLLOWED = "guidance_followed"
    GUIDANCE_NOT_FOLLOWED = "guidance_not_followed"


NOTE_SENTENCES: Mapping[NoteKey, str] = {
    NoteKey.MODEL_FAILED: _n_("the model failed (%(reason)s); this draft is extractive"),
    NoteKey.LOCAL_MODEL_MISSING: _n_(
        "the local model is not available (%(reason)s); this draft is extractive"
    ),
    NoteKey.INJECTION_BLOCKED: _n_(
        "instructions were found in the data, so nothing was sent to the model"
    ),
    NoteKey.GUIDANCE_FOLLOWED: _n_("drafted following the process's guidance for '%(label)s'"),
    NoteKey.GUIDANCE_NOT_FOLLOWED: _n_(
        "the process's guidance for '%(label)s' was not followed: the %(drafter)s drafter "
        "only quotes the passages"
    ),
}

# A drafter's name inside a sentence ("the %(drafter)s drafter"), in words of the language; a
# name not listed stays as it is.
DRAFTER_NAMES: Mapping[str, str] = {
    "extractive": _n_("extractive"),
    "local": _n_("local model"),
    "chat": _n_("language model"),
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True, slots=True)
class DraftNote:
    """A note as its key and parameters; `key` is None for a sentence no key matches."""

    key: NoteKey | None
    text: str  # the English sentence, as stored
    params: Mapping[str, str] = field(default_factory=dict)


def note(key: NoteKey, **params: str) -> str:
    """The note's English sentence, as drafts carry it."""
    return NOTE_SENTENCES[key] % params


@cache
def _pattern(key: NoteKey) -> re.Pattern[str]:
    """The sentence of `key` with each placeholder as a named group (greedy: a reason may hold
    parentheses and semicolons of its own)."""
    pieces = _PLACEHOLDER.split(NOTE_SENTENCES[key])
    literal, names = pieces[::2], pieces[1::2]
    body = re.escape(literal[0]) + "".join(
        f"(?P<{name}>.*){re.escape(rest)}" for name, rest in zip(names, literal[1:], strict=True)
    )
    return re.compile(body, re.DOTALL)


def read_note(text: str) -> DraftNote:
    """The key and parameters of a stored English note; key None when none matches."""
    for key in NoteKey:
        match = _pattern(key).fullmatch(text)
        if match is not None:
            return DraftNote(key, text, match.groupdict())
    return DraftNote(None, text)


def note_sentence(text: str, *, locale: str = DEFAULT_LOCALE) -> str:
    """A stored note in `locale`: its sentence translated, or the text as stored when no key
    matches it."""
    found = read_note(text)
    if found.key is None:
        return text
    gettext = translations(locale).gettext
    params = dict(found.params)
    if params.get("drafter") in DRAFTER_NAMES:
        params["drafter"] = gettext(DRAFTER_NAMES[params["drafter"]])
    return gettext(NOTE_SENTENCES[found.key]) % params
