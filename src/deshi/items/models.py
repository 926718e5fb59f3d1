"""The API's item, decision and review schemas; their enums (ItemStatus, ReviewAction) are in
`deshi.domain`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deshi.domain import ItemStatus, ReviewAction
from deshi.engine.types import Route, RouteReason

__all__ = [
    "AlternativePublic",
    "DecisionPublic",
    "EvidencePublic",
    "ItemBatchCreate",
    "ItemBatchPublic",
    "ItemCreate",
    "ItemPublic",
    "ReviewPublic",
]


class ItemCreate(BaseModel):
    """One work item as a caller submits it; server-owned fields cannot be set."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The caller's id; re-sending the same one returns the stored item.",
    )
    text: str = Field(default="", description="The text to decide on (size limit configurable).")
    fields: dict[str, Any] = Field(default_factory=dict, description="Structured input fields.")
    entity_key: str | None = Field(
        default=None, max_length=200, description="Customer/vendor/employee key sharing memory."
    )


class ItemBatchCreate(BaseModel):
    """Items stored all-or-nothing; the limit is the `max_batch_items` setting."""

    model_config = ConfigDict(extra="forbid")

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


class ItemBatchPublic(BaseModel):
    """The items of a batch, in request order, and how many were new."""

    created: int
    existing: int
    items: list[ItemPublic]
