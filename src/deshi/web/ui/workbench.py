"""The reviewer workbench's fetch endpoints: claim the next item (an HTML fragment), answer
it (and undo the answer), skip it. Every one is a POST that must carry the session's CSRF
token; permissions are the review service's, exactly as on the API (an auditor's claim or
answer is refused with 403). The script sends its CSRF token as a header, so its errors come
back as problem+json (`deshi.web.errors`)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.drafting.core import CITATION
from deshi.drafting.models import (
    MAX_MESSAGE_CHARS,
    DraftPublic,
    DraftRequest,
    DraftVerdictCreate,
)
from deshi.drafting.service import draft_reply_in_steps
from deshi.drafting.verdicts import judge_draft_for
from deshi.inputs import InputModel
from deshi.items.models import AlternativePublic, DecisionPublic
from deshi.items.service import load_item_for
from deshi.knowledge import KnowledgeIndex
from deshi.permissions import Action
from deshi.processes.draft_fields import MAX_FIELD_NAME_CHARS
from deshi.processes.label_names import humanized, namer
from deshi.processes.service import get_process_for
from deshi.reviews.models import ClaimedItemPublic, ReviewCreate
from deshi.reviews.prefetch import prefetch_passages
from deshi.reviews.service import claim_next, count_waiting, release_item, submit_review
from deshi.reviews.undo import undo_review
from deshi.web.api.drafting import DrafterDep
from deshi.web.api.knowledge import KnowledgeDep
from deshi.web.deps import ConfigDep, FactoryDep, RegistryDep, SessionDep
from deshi.web.params import PathId
from deshi.web.ui.deps import CsrfDep, Viewer, ViewerDep, render

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)

MAX_ALTERNATIVES = 5


def label_name(code: str) -> str:
    """A label's readable name when its process gave it none: `card_not_arrived` → "Card not
    arrived" (the code stays the value sent back, and the tooltip)."""
    return humanized(code)


def _alternatives(suggestion: DecisionPublic | None) -> list[AlternativePublic]:
    """The other labels to pick by number: the suggested one is already shown with its
    calibrated confidence, so its raw score would only stand beside it as a second number."""
    if suggestion is None:
        return []
    others = [alt for alt in suggestion.alternatives if alt.label != suggestion.label]
    return others[:MAX_ALTERNATIVES]


def _fragment(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    claimed: ClaimedItemPublic | None,
) -> Response:
    waiting = count_waiting(db, principal=viewer.principal, process_id=process_id)
    if claimed is None:
        return render(request, "_empty.html", locale=viewer.locale, viewer=viewer, waiting=waiting)
    suggestion = claimed.suggestion
    process = get_process_for(db, viewer.principal, process_id)
    return render(
        request,
        "_item.html",
        locale=viewer.locale,
        viewer=viewer,
        waiting=waiting,
        label_name=namer(dict(process.label_names or {}), viewer.locale),
        draft_fields=sorted((process.draft_fields or {}).items()),
        item=claimed,
        suggestion=suggestion,
        alternatives=_alternatives(suggestion),
    )


@router.post("/processes/{process_id}/next", response_class=HTMLResponse, dependencies=[CsrfDep])
def next_item(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    factory: FactoryDep,
    config: ConfigDep,
    index: KnowledgeDep,
    background: BackgroundTasks,
) -> Response:
    """Render the item the viewer holds (a reload gives it back), else lease the next one (or
    render the empty-queue note), with the passages of the documents that bear on it; the
    next items' passages are found after the response, while the viewer reads."""
    claimed = claim_next(
        db,
        principal=viewer.principal,
        process_id=process_id,
        lease_seconds=config.lease_seconds,
        index=index,
    )
    if claimed is not None:
        _find_passages_ahead(background, factory, viewer, process_id, index)
    return _fragment(request, viewer, db, process_id, claimed)


def _find_passages_ahead(
    background: BackgroundTasks,
    factory: sessionmaker[Session],
    viewer: Viewer,
    process_id: int,
    index: KnowledgeIndex,
) -> None:
    """After the response, the passages of the next items in the queue (`reviews.prefetch`)."""
    background.add_task(
        prefetch_passages, factory, principal=viewer.principal, process_id=process_id, index=index
    )


@router.post("/items/{item_id}/answer", dependencies=[CsrfDep])
def answer(
    item_id: PathId, body: ReviewCreate, viewer: ViewerDep, db: SessionDep, registry: RegistryDep
) -> Response:
    """Submit the viewer's answer (accept, correct with a label, or escalate)."""
    submit_review(db, principal=viewer.principal, item_id=item_id, answer=body, registry=registry)
    return Response(status_code=204)


@router.post("/items/{item_id}/undo", response_class=HTMLResponse, dependencies=[CsrfDep])
def undo(
    item_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, config: ConfigDep
) -> Response:
    """Take back the viewer's last answer (within the undo window) and render the item again,
    held by them (`deshi.reviews.undo`); a refusal comes back as a problem."""
    held = undo_review(
        db, principal=viewer.principal, item_id=item_id, lease_seconds=config.lease_seconds
    )
    return _fragment(request, viewer, db, held.process_id, held)


@router.post(
    "/processes/{process_id}/items/{item_id}/skip",
    response_class=HTMLResponse,
    dependencies=[CsrfDep],
)
def skip(
    process_id: PathId,
    item_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    factory: FactoryDep,
    config: ConfigDep,
    index: KnowledgeDep,
    background: BackgroundTasks,
) -> Response:
    """Lease the next item first, then give this one back, so a skip never returns the
    same item at once."""
    claimed = claim_next(
        db,
        principal=viewer.principal,
        process_id=process_id,
        lease_seconds=config.lease_seconds,
        resume_held=False,
        index=index,
    )
    release_item(db, principal=viewer.principal, item_id=item_id)
    if claimed is not None:
        _find_passages_ahead(background, factory, viewer, process_id, index)
    return _fragment(request, viewer, db, process_id, claimed)


class DraftAsk(InputModel):
    """What the draft panel asks for: the item's reply, or the value of one of its process's
    drafting fields."""

    field: str | None = Field(default=None, min_length=1, max_length=MAX_FIELD_NAME_CHARS)


@router.post("/items/{item_id}/draft", response_class=HTMLResponse, dependencies=[CsrfDep])
def draft(
    item_id: PathId,
    request: Request,
    viewer: ViewerDep,
    factory: FactoryDep,
    index: KnowledgeDep,
    drafter: DrafterDep,
    ask: DraftAsk | None = None,
) -> Response:
    """A reply to the item (or, with a `field`, that field's value) drafted from its
    department's documents (an HTML fragment): each citation links to its passage, each
    sentence its sources do not support is marked."""
    with transaction(factory, lock_early=False) as db:
        item, process = load_item_for(
            db, principal=viewer.principal, item_id=item_id, action=Action.REVIEW
        )
        text, department_id = item.text, process.department_id
    result = None
    if text.strip():
        wanted = DraftRequest(
            department_id=department_id,
            message=text[:MAX_MESSAGE_CHARS],
            item_id=item_id,
            field=ask.field if ask is not None else None,
        )
        # No transaction stays open while the model drafts (`draft_reply_in_steps`).
        result = draft_reply_in_steps(
            factory,
            actor=viewer.principal.actor,
            request=wanted,
            drafter=drafter,
            index=index,
            principal=viewer.principal,
        )
    return render(
        request,
        "_draft.html",
        locale=viewer.locale,
        viewer=viewer,
        draft=result,
        sentences=_linked_sentences(result) if result is not None else [],
    )


def _linked_sentences(result: DraftPublic) -> list[dict[str, object]]:
    """Each sentence as pieces of text and citation links, with its verdict."""
    urls = {c.number: c for c in result.citations}
    shown = []
    for sentence in result.sentences:
        pieces: list[dict[str, object]] = []
        for part in CITATION.split(sentence.sentence):
            if part.isdigit() and int(part) in urls:
                citation = urls[int(part)]
                pieces.append(
                    {"number": citation.number, "url": citation.url, "title": citation.document}
                )
            elif part:
                pieces.append({"text": part})
        shown.append({"pieces": pieces, "supported": sentence.supported})
    return shown


@router.post("/drafts/{draft_id}/verdict", response_class=HTMLResponse, dependencies=[CsrfDep])
def draft_verdict(
    draft_id: PathId, body: DraftVerdictCreate, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Accept, edit or reject the shown draft (an HTML fragment saying what was kept); the
    item's label is still to be answered."""
    judged = judge_draft_for(db, principal=viewer.principal, draft_id=draft_id, body=body)
    return render(
        request, "_draft_verdict.html", locale=viewer.locale, viewer=viewer, judged=judged
    )
