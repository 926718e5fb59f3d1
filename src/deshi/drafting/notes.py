"""Draft notes: what happened while a draft was made, as a key and the values its sentence names.

A draft's notes say what happened while it was made: the model failed and the extractive
fallback answered, the local model is missing, instructions were found in the data so nothing
was sent, the owner's guidance for the label was or was not followed. Each kind has a stable
`NoteKey` and one English sentence, written here once as a msgid and translated in deshi/locale;
a note carries its key and parameters, and is worded in a language only when shown. A drafter
plugged in from outside may add a sentence of its own (`own_note`), shown as it is.

The API gives each note's English sentence (`DraftPublic.notes`, as it always did) and its key
and parameters (`DraftPublic.note_keys`), so a client can word it in its own language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from deshi.i18n import translations

__all__ = [
    "DRAFTER_NAMES",
    "NOTE_SENTENCES",
    "DraftNote",
    "NoteKey",
    "note",
    "own_note",
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


@dataclass(frozen=True, slots=True)
class DraftNote:
    """A note as its key and parameters; `key` None for a drafter's own sentence (`own`)."""

    key: NoteKey | None
    params: Mapping[str, str] = field(default_factory=dict)
    own: str = ""

    @property
    def text(self) -> str:
        """The note's English sentence, with the values as given (the API's `notes`)."""
        return self.own if self.key is None else NOTE_SENTENCES[self.key] % self.params

    def sentence(self, locale: str) -> str:
        """The note in `locale` (a drafter's own sentence as it is)."""
        if self.key is None:
            return self.own
        gettext = translations(locale).gettext
        params = dict(self.params)
        if params.get("drafter") in DRAFTER_NAMES:
            params["drafter"] = gettext(DRAFTER_NAMES[params["drafter"]])
        return gettext(NOTE_SENTENCES[self.key]) % params


def note(key: NoteKey, **params: str) -> DraftNote:
    """A note of a known kind."""
    return DraftNote(key, params)


def own_note(text: str) -> DraftNote:
    """A sentence a drafter writes itself, shown in every language as it is."""
    return DraftNote(None, own=text)
