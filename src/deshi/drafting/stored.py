"""An item's stored drafts as its lineage shows them: each draft as it was shown, with its check
and the reviewer's verdict (`GET /items/{id}/drafts`, `deshi item show`).

Whoever may read the item may read its drafts: the same `read` right that shows the item and its
evidence passages, in the item's department. Drafts are shown to blind reviewers too (the
workbench's draft panel is): they come from the item's text and the documents, not from the
agent's suggestion.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import DraftVerdict, Item, StoredDraft
from deshi.errors import NotFound
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process_for

__all__ = ["StoredDraftPublic", "item_drafts", "item_drafts_for"]


class StoredDraftPublic(BaseModel):
    """A stored draft of an item: as it was shown, its check and the verdict on it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    item_id: int | None
    field: str | None = Field(
        default=None, description="The drafting field it filled; none for a reply."
    )
    drafter: str
    model: str
    text: str = Field(description="The draft as it was shown, with its `[n]` citations.")
    citations: list[int] = Field(description="The ids of the passages it cites.")
    sentences: int
    supported_sentences: int
    faithfulness: float = Field(description="Share of its sentences that are supported.")
    has_unsupported_claim: bool
    guardrails: list[str]
    created_by: str
    created_at: datetime
    verdict: DraftVerdict | None = Field(description="None until a reviewer judges it.")
    final_text: str | None
    edit_distance: float | None
    verdict_by: str | None
    verdict_at: datetime | None


def item_drafts(session: Session, *, item_id: int) -> list[StoredDraftPublic]:
    """The item's drafts, oldest first."""
    rows = session.scalars(
        select(StoredDraft).where(StoredDraft.item_id == item_id).order_by(StoredDraft.id)
    )
    return [StoredDraftPublic.model_validate(row) for row in rows]


def item_drafts_for(
    session: Session, *, principal: Principal, item_id: int
) -> list[StoredDraftPublic]:
    """`item_drafts` for someone who may read the item (NotFound for anyone else, as
    `GET /items/{id}` answers them)."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    try:
        get_process_for(session, principal, item.process_id, Action.READ)
    except NotFound:
        raise NotFound(f"item {item_id} not found") from None
    return item_drafts(session, item_id=item_id)
