"""API schemas of drafting: ask for a draft, and the draft with its citations and checks."""

from __future__ import annotations

from pydantic import BaseModel, Field

from deshi.inputs import DbId, InputModel

__all__ = ["CitationPublic", "DraftPublic", "DraftRequest", "SentencePublic"]

MAX_MESSAGE_CHARS = 20_000


class DraftRequest(InputModel):
    """A message to answer from one department's knowledge base."""

    department_id: DbId
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    top_k: int = Field(default=4, ge=1, le=10, description="Passages given to the drafter.")


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


class DraftPublic(BaseModel):
    """A drafted reply: never sent by itself; a reviewer accepts, edits or rejects it."""

    text: str
    drafter: str = Field(description="`extractive`, or `chat` for the configured model.")
    model: str = ""
    citations: list[CitationPublic]
    sentences: list[SentencePublic]
    faithfulness: float = Field(description="Share of the draft's sentences that are supported.")
    has_unsupported_claim: bool
    guardrails: list[str] = Field(
        description="What fired: `injection_blocked`, `redacted:N`, `model_failed`."
    )
    notes: list[str]
