"""Drafting route: a reply to a message, drafted from a department's knowledge base, with its
citations and the faithfulness check of every sentence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from deshi.drafting.core import Drafter
from deshi.drafting.models import DraftPublic, DraftRequest
from deshi.drafting.service import draft_reply_for
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import PrincipalDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/knowledge", tags=["knowledge"])


def get_drafter(request: Request) -> Drafter:
    """The app's drafter (`create_app(drafter=...)`, else the settings' own)."""
    drafter: Drafter = request.app.state.drafter
    return drafter


DrafterDep = Annotated[Drafter, Depends(get_drafter)]


@router.post("/draft", response_model=DraftPublic)
def draft_reply(
    body: DraftRequest,
    session: SessionDep,
    principal: PrincipalDep,
    index: KnowledgeDep,
    drafter: DrafterDep,
) -> DraftPublic:
    """Draft a reply to `message` from the department's documents (anyone with a role there).

    The draft cites passages as `[n]` (see `citations`); each sentence is checked against what
    it cites (`sentences`, `faithfulness`); a draft with `has_unsupported_claim` must be read
    with care. With `DESHI_LLM_BASE_URL` set, a chat model drafts it (personal data replaced
    by placeholders before anything is sent; the call is audited); otherwise, or when the model
    fails, the draft is extractive: the documents' own sentences."""
    return draft_reply_for(session, principal=principal, request=body, drafter=drafter, index=index)
