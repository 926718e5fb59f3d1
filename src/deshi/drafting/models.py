"""API schemas of drafting: ask for a draft, the draft with its citations and checks, and
the reviewer's verdict on it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from deshi.db.tables import DraftVerdict
from deshi.drafting.notes import DraftNote, NoteKey
from deshi.inputs import DbId, InputModel
from deshi.processes.draft_fields import MAX_FIELD_NAME_CHARS

__all__ = [
    "AutosendStatusPublic",
    "CitationPublic",
    "DraftPublic",
    "DraftRequest",
    "DraftVerdictCreate",
    "DraftVerdictPublic",
    "NotePublic",
    "PastAnswerPublic",
    "SentencePublic",
]

MAX_MESSAGE_CHARS = 20_000


class DraftRequest(InputModel):
    """A message to answer from one department's knowledge base."""

    department_id: DbId
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    top_k: int = Field(default=4, ge=1, le=10, description="Passages given to the drafter.")
    item_id: DbId | None = Field(
        default=None,
        description="The item the reply answers (of a process in this department): the draft "
        "is stored against it, and the process's similar past answers are given as examples.",
    )
    field: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FIELD_NAME_CHARS,
        description="Fill this drafting field of the item's process (`draft_fields`) instead "
        "of drafting a reply: the draft is the value its instruction asks for, short and cited "
        "like a reply, and checked the same way. Needs `item_id`; 422 naming `field` for a "
        "name the process does not have.",
    )


class CitationPublic(BaseModel):
    """A passage the draft could cite as `[number]`, and where to open it."""

    number: int
    passage_id: int
    document: str
    version: int
    page: int | None
    section: str
    passage: str
    url: str
    cited: bool = Field(description="Whether the draft cites it.")


class SentencePublic(BaseModel):
    """One sentence of the draft and whether the passages it cites support it."""

    sentence: str
    cited: list[int]
    support: float = Field(description="Share of its content words found in what it cites.")
    missing_numbers: list[str] = Field(description="Numbers it states that its sources lack.")
    supported: bool


class PastAnswerPublic(BaseModel):
    """An answer a reviewer accepted or wrote for a similar item, given to the drafter as an
    example (not a source: it is never cited)."""

    draft_id: int
    item_id: int
    question: str
    answer: str
    label: str | None
    similarity: float


class NotePublic(BaseModel):
    """A draft's note as a stable key and the values its sentence names."""

    key: NoteKey | None = Field(
        description="None for a sentence the drafter wrote itself (shown as it is)."
    )
    params: dict[str, str]
    text: str = Field(description="The note in English, as in the draft's `notes`.")

    @classmethod
    def of(cls, note: DraftNote) -> NotePublic:
        return cls(key=note.key, params=dict(note.params), text=note.text)

    def sentence(self, locale: str) -> str:
        """The note in `locale`."""
        return DraftNote(self.key, self.params, own=self.text).sentence(locale)


class DraftPublic(BaseModel):
    """A drafted reply (or a field's value): never sent by itself; a reviewer accepts, edits or
    rejects it."""

    id: int = Field(description="The stored draft: send the verdict to `/drafts/{id}/verdict`.")
    item_id: int | None = None
    field: str | None = Field(
        default=None, description="The drafting field this draft filled; none for a reply."
    )
    text: str
    drafter: str = Field(
        description="`extractive`, `chat` for the configured endpoint, or `local` for the "
        "local model (`DESHI_LLM_PROVIDER`)."
    )
    model: str = ""
    citations: list[CitationPublic]
    sentences: list[SentencePublic]
    faithfulness: float = Field(description="Share of the draft's sentences that are supported.")
    has_unsupported_claim: bool
    guardrails: list[str] = Field(
        description="What fired: `injection_blocked`, `redacted:N`, `model_failed`."
    )
    notes: list[str] = Field(description="What happened while drafting, in English.")
    note_keys: list[NotePublic] = Field(
        default_factory=list,
        description="The same notes as stable keys and parameters (`deshi.drafting.notes`), for "
        "a client that words them in its own language.",
    )
    past_answers: list[PastAnswerPublic] = Field(
        default_factory=list, description="Similar past answers given to the drafter."
    )


class DraftVerdictCreate(InputModel):
    """The reviewer's verdict: `accept` the draft as is, `edit` it (`text`: the final reply)
    or `reject` it. An edit whose text equals the draft is recorded as accepted."""

    verdict: Literal["accept", "edit", "reject"]
    text: str | None = Field(
        default=None, min_length=1, max_length=MAX_MESSAGE_CHARS, description="Only with `edit`."
    )


class DraftVerdictPublic(BaseModel):
    """A judged draft: the verdict, the final text and how far it moved from the draft."""

    id: int
    item_id: int | None
    verdict: DraftVerdict
    final_text: str | None
    edit_distance: float | None = Field(
        description="Normalised Levenshtein distance between draft and final text (0 = as is, "
        "1 = nothing kept); none for a rejected draft."
    )
    verdict_by: str
    verdict_at: datetime


class AutosendStatusPublic(BaseModel):
    """Whether a process's drafts are sent without review, and the evidence for it
    (docs/drafting.md, "Sent without review")."""

    process_id: int
    enabled: bool = Field(description="The process's `draft_autosend` setting.")
    state: Literal["off", "not_certified", "paused", "sending"] = Field(
        description="`off`: the setting is off (drafts are suggestions only); `not_certified`: "
        "too little or too noisy evidence, nothing is sent; `paused`: the blind audit found "
        "sent drafts over the error budget; `sending`: drafts at or above the threshold that "
        "pass every gate are sent."
    )
    threshold: float | None = Field(description="The certified draft score threshold.")
    certified_bound: float | None = Field(
        description="Upper bound on the share of drafts at the threshold a reviewer would not "
        "accept as is (at the process's confidence)."
    )
    epsilon: float = Field(description="The error budget the certification used.")
    confidence: float
    judged: int = Field(description="Drafts with a score and a reviewer's verdict.")
    needed: int = Field(description="The fewest clean verdicts that could certify anything.")
    audited: int = Field(description="Would-be-sent drafts judged in the blind audit.")
    audit_errors: int = Field(description="Of those, how many were edited or rejected.")
    audit_upper_bound: float | None = Field(
        description="One-sided Clopper–Pearson bound on the audited error (shown; the pause "
        "is decided by the anytime-valid monitor)."
    )
    paused: bool
    paused_at: datetime | None
    computed_at: datetime | None = Field(description="None until the first certification.")
    sent: int = Field(description="Drafts sent without review.")
    audit_samples: int = Field(description="Would-be-sent drafts held for the blind audit.")
    held: dict[str, int] = Field(
        description="Drafts made for auto-completed items but kept as suggestions, by reason: "
        "policy_off, unsupported_claim, guardrail, nothing_found, not_certified, paused, "
        "below_threshold."
    )
