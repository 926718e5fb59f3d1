"""Drafting routes: a reply to a message, drafted from a department's knowledge base, with its
citations and the faithfulness check of every sentence (stored, so a reviewer can accept, edit
or reject it), and the reviewer's verdict on a stored draft."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from deshi.drafting.autosend_state import autosend_status_for
from deshi.drafting.core import Drafter
from deshi.drafting.models import (
    AutosendStatusPublic,
    DraftPublic,
    DraftRequest,
    DraftVerdictCreate,
    DraftVerdictPublic,
)
from deshi.drafting.service import draft_reply_in_steps
from deshi.drafting.stored import StoredDraftPublic, item_drafts_for
from deshi.drafting.verdicts import judge_draft_for
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import FactoryDep, PrincipalDep, SessionDep
from deshi.web.params import PathId

__all__ = ["router"]

router = APIRouter()


def get_drafter(request: Request) -> Drafter:
    """The app's drafter (`create_app(drafter=...)`, else the settings' own)."""
    drafter: Drafter = request.app.state.drafter
    return drafter


DrafterDep = Annotated[Drafter, Depends(get_drafter)]


@router.post("/knowledge/draft", response_model=DraftPublic, tags=["knowledge"])
def draft_reply(
    body: DraftRequest,
    factory: FactoryDep,
    principal: PrincipalDep,
    index: KnowledgeDep,
    drafter: DrafterDep,
) -> DraftPublic:
    """Draft a reply to `message` from the department's documents (anyone with a role there).

    The draft cites passages as `[n]` (see `citations`); each sentence is checked against what
    it cites (`sentences`, `faithfulness`); a draft with `has_unsupported_claim` must be read
    with care. With `DESHI_LLM_BASE_URL` set, a chat model drafts it (personal data replaced
    by placeholders before anything is sent; the call is audited); otherwise, or when the model
    fails, the draft is extractive: the documents' own sentences. The draft is stored (`id`):
    send the reviewer's verdict to `POST /drafts/{id}/verdict`. With `item_id`, it is stored
    against that item and the process's similar past answers are given to the drafter as
    examples (`past_answers`); an item sampled for the blind audit whose drafted reply would
    have been sent without review gets that stored draft back, to be judged in the audit.
    With `item_id` and `field`, the draft fills that drafting field of the item's process
    (`draft_fields`) instead: the value alone, cited and checked like a reply, stored with its
    `field` (422 naming `field` when the process has no such field, or without `item_id`)."""
    # No transaction stays open while the model drafts (`draft_reply_in_steps`).
    return draft_reply_in_steps(
        factory,
        actor=principal.actor,
        request=body,
        drafter=drafter,
        index=index,
        principal=principal,
    )


@router.post("/drafts/{draft_id}/verdict", response_model=DraftVerdictPublic, tags=["knowledge"])
def judge_draft(
    draft_id: PathId, body: DraftVerdictCreate, session: SessionDep, principal: PrincipalDep
) -> DraftVerdictPublic:
    """The reviewer's verdict on a stored draft: `accept` it as is, `edit` it (`text`: the final
    reply; its normalised edit distance from the draft is kept) or `reject` it (anyone who may
    review in the draft's department; audited as `draft.accept|edit|reject`). Accepted and
    edited drafts become the process's past answers. 409 when the draft was judged already.
    A verdict does not answer the item's label."""
    return judge_draft_for(session, principal=principal, draft_id=draft_id, body=body)


@router.get(
    "/items/{item_id}/drafts",
    response_model=list[StoredDraftPublic],
    tags=["knowledge"],
    responses={404: {"description": "No such item, or not in a department you can see."}},
)
def get_item_drafts(
    item_id: PathId, session: SessionDep, principal: PrincipalDep
) -> list[StoredDraftPublic]:
    """The item's stored drafts, oldest first: each as it was shown (text with its `[n]`
    citations, the cited passage ids, the faithfulness check, the guardrails) and the verdict
    on it (anyone who may read the item)."""
    return item_drafts_for(session, principal=principal, item_id=item_id)


@router.get(
    "/processes/{process_id}/draft-autosend",
    response_model=AutosendStatusPublic,
    tags=["knowledge"],
)
def draft_autosend_status(
    process_id: PathId, session: SessionDep, principal: PrincipalDep
) -> AutosendStatusPublic:
    """Whether the process's drafts are sent without review (anyone with a role in its
    department): the `draft_autosend` setting, the certified draft score threshold and its
    evidence, the blind audit of would-be-sent drafts and whether it paused sending, and how
    many drafts were sent or held and why (docs/drafting.md, "Sent without review")."""
    return autosend_status_for(session, principal=principal, process_id=process_id)
