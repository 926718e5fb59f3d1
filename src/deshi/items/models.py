"""The API's item, decision and review schemas; their enums (ItemStatus, ReviewAction) are in
`deshi.domain`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deshi.domain import ItemStatus, ReviewAction
from deshi.engine.types import Route, RouteReason
from deshi.inputs import InputModel

__all__ = [
    "AlternativePublic",
    "DecisionPublic",
    "EvidencePassagePublic",
    "EvidencePublic",
    "ItemBatchCreate",
    "ItemBatchPublic",
    "ItemCreate",
    "ItemPublic",
    "ReviewPublic",
    "SentDraftPublic",
]

# An item's structured fields are a few values (amounts, codes, names), not documents: the
# bound keeps one item's row, and a batch of them, a bounded size.
MAX_FIELDS = 100
MAX_FIELDS_BYTES = 32_768


class ItemCreate(InputModel):
    """One work item as a caller submits it; server-owned fields cannot be set."""

    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The caller's id; re-sending the same one returns the stored item.",
    )
    text: str = Field(default="", description="The text to decide on (size limit configurable).")
    fields: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_FIELDS,
        description=(
            f"Structured input fields: at most {MAX_FIELDS}, together at most "
            f"{MAX_FIELDS_BYTES:,} bytes as compact UTF-8 JSON."
        ),
    )
    entity_key: str | None = Field(
        default=None, max_length=200, description="Customer/vendor/employee key sharing memory."
    )

    @field_validator("fields")
    @classmethod
    def _fields_fit(cls, value: dict[str, Any]) -> dict[str, Any]:
        compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(compact.encode("utf-8", "surrogatepass")) > MAX_FIELDS_BYTES:
            raise ValueError(f"fields take at most {MAX_FIELDS_BYTES:,} bytes as JSON")
        return value


class ItemBatchCreate(InputModel):
    """Items stored all-or-nothing; the limit is the `max_batch_items` setting."""

    items: list[ItemCreate] = Field(min_length=1)


class AlternativePublic(BaseModel):
    """A candidate label and its probability."""

    label: str
    probability: float


class EvidencePublic(BaseModel):
    """A reviewed past case the decision leaned on."""

    case_id: str
    text: str
    label: str
    similarity: float


class EvidencePassagePublic(BaseModel):
    """A passage of the department's documents found for the item's text when it was first
    shown; `url` opens the document's page at the passage, in the version it was found in."""

    passage_id: int
    document_id: int
    document: str = Field(description="The document's name.")
    version: int = Field(description="The document version the passage was found in.")
    page: int | None = Field(description="The PDF page, when the document has pages.")
    section: str = Field(description="The heading the passage is under (may be empty).")
    excerpt: str = Field(description="The passage's first few hundred characters.")
    score: float = Field(description="Hybrid (reciprocal-rank fused) retrieval score.")
    url: str = Field(description="The knowledge page of that version, at the passage.")
    source_url: str = Field(description="The original file (API), at the page for a PDF.")


class DecisionPublic(BaseModel):
    """The agent's decision with everything needed to explain it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    model_version_id: int | None
    model_version: int = Field(description="Model version number; 0 = memory only, no model.")
    threshold: float | None = Field(description="Auto-complete threshold in force at decision.")
    label: str | None
    confidence: float
    alternatives: list[AlternativePublic]
    evidence: list[EvidencePublic]
    route: Route
    reason: str = Field(
        description="Why the item was routed so, in English (rendered from the code and params)."
    )
    reason_code: RouteReason | None = Field(
        description="Why the item was routed so; null only for decisions stored before codes."
    )
    reason_params: dict[str, str | float | None] = Field(
        default_factory=dict,
        description="The facts the reason code names: confidence and threshold (auto, "
        "below_threshold), label (sensitive, rare_label), rule (rule).",
    )
    created_at: datetime


class ReviewPublic(BaseModel):
    """One human answer on an item."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reviewer_id: int
    action: ReviewAction
    final_label: str | None
    seconds: float | None
    blind: bool
    created_at: datetime


class SentDraftPublic(BaseModel):
    """The reply sent without review for this item (docs/drafting.md, "Sent without review")."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The stored draft.")
    text: str = Field(description="The reply with its `[n]` citations.")
    citations: list[int] = Field(description="The passage ids it cites.")
    score: float | None = Field(description="Label confidence × weakest sentence's support.")
    faithfulness: float
    drafter: str
    sent_at: datetime


class ItemPublic(BaseModel):
    """An item with its lineage: the decision and every review."""

    id: int
    process_id: int
    external_id: str | None
    text: str
    fields: dict[str, Any]
    entity_key: str | None
    arm: str | None
    status: ItemStatus
    escalated: bool
    created: bool = Field(description="True when this request stored the item.")
    lease_owner: int | None
    lease_expires_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    decision: DecisionPublic | None = Field(
        description="Hidden (null) from reviewers while a blind item is still open."
    )
    reviews: list[ReviewPublic]
    evidence_passages: list[EvidencePassagePublic] | None = Field(
        default=None,
        description="The department's documents that bear on the item (top 3), found when it "
        "was first shown to a person or read with `GET /items/{id}` and kept as they were "
        "then; null until then (or for an item without a decision), empty when the knowledge "
        "base had nothing.",
    )
    passages_retrieved_at: datetime | None = Field(
        default=None, description="When `evidence_passages` were found."
    )
    sent_draft: SentDraftPublic | None = Field(
        default=None,
        description="The reply sent without review (the process's `draft_autosend`), if any.",
    )


class ItemBatchPublic(BaseModel):
    """The items of a batch, in request order, and how many were new."""

    created: int
    existing: int
    items: list[ItemPublic]
