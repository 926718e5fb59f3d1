"""API schemas of the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from deshi.domain import ReviewAction
from deshi.inputs import InputModel
from deshi.items.models import DecisionPublic, EvidencePassagePublic

__all__ = ["ClaimedItemPublic", "ReviewCreate"]


class ReviewCreate(InputModel):
    """A reviewer's answer on a claimed item."""

    action: ReviewAction
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Required for `correct`, and for any answer on a blind item.",
    )
    seconds: float | None = Field(
        default=None, ge=0, le=86_400, description="Time spent on the item."
    )


class ClaimedItemPublic(BaseModel):
    """An item leased to the caller; blind items carry no suggestion."""

    id: int
    process_id: int
    external_id: str | None
    text: str
    fields: dict[str, Any]
    entity_key: str | None
    blind: bool = Field(description="True: decide without the agent's suggestion.")
    escalated: bool
    labels: list[str] = Field(description="The process's label set.")
    lease_expires_at: datetime
    suggestion: DecisionPublic | None = Field(description="Null when served blind.")
    evidence_passages: list[EvidencePassagePublic] = Field(
        default_factory=list,
        description="The department's documents that bear on the item (top 3), shown blind "
        "or not: they carry nothing of the agent's suggestion.",
    )
    draft_id: int | None = Field(
        default=None,
        description="A stored draft of this item that awaits the reviewer's verdict "
        "(`POST /knowledge/draft` with `item_id` shows it, `POST /drafts/{id}/verdict` judges "
        "it): judging it is part of this review.",
    )
