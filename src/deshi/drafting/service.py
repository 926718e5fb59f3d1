"""Draft a reply to a message from a department's knowledge base, check it, audit the call.

The drafter is injected (`make_drafter` builds the workspace's from its settings): extractive
by default, an OpenAI-compatible model when one is configured, with the extractive drafter as
its fallback when the model fails or a guardrail stops the call. A call to a remote model is
recorded in the audit log (endpoint, model, how many personal data were redacted, the
guardrails) without any of the text.
"""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session

from deshi.audit import record_event
from deshi.drafting.core import Draft, Drafter, Evidence, cited_numbers
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.faithfulness import FaithfulnessReport, check
from deshi.drafting.models import CitationPublic, DraftPublic, DraftRequest, SentencePublic
from deshi.drafting.remote import ChatDrafter, DraftingError
from deshi.errors import NotFound
from deshi.knowledge import KnowledgeIndex, search
from deshi.knowledge.models import SearchHit
from deshi.permissions import Action, Principal, require
from deshi.processes.service import get_department
from deshi.settings import Settings

__all__ = ["draft_reply", "draft_reply_for", "make_drafter"]

MODEL_FAILED = "model_failed"


def make_drafter(settings: Settings, client: httpx.Client | None = None) -> Drafter:
    """The workspace's drafter: a chat model when `DESHI_LLM_BASE_URL` is set, else extractive."""
    extractive = ExtractiveDrafter()
    if settings.llm_base_url is None:
        return extractive
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatDrafter(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        client=client or httpx.Client(timeout=settings.llm_timeout_seconds, trust_env=False),
        fallback=extractive,
        api_key=key,
    )


def draft_reply_for(
    session: Session,
    *,
    principal: Principal,
    request: DraftRequest,
    drafter: Drafter,
    index: KnowledgeIndex,
) -> DraftPublic:
    """`draft_reply` for someone with a role in the department (NotFound for anyone else, as
    if the department did not exist)."""
    try:
        require(principal, Action.READ, request.department_id)
    except NotFound:
        raise NotFound(f"department {request.department_id} not found") from None
    return draft_reply(
        session, actor=principal.actor, request=request, drafter=drafter, index=index
    )


def draft_reply(
    session: Session,
    *,
    actor: str,
    request: DraftRequest,
    drafter: Drafter,
    index: KnowledgeIndex,
) -> DraftPublic:
    """A draft for `request.message` from the department's passages, checked sentence by
    sentence; a call to a remote model is audited as `actor`."""
    hits = search(
        session,
        department_id=request.department_id,
        query=request.message,
        top_k=request.top_k,
        index=index,
    )
    evidence = [
        Evidence(n, hit.passage_id, hit.document, hit.passage, hit.url)
        for n, hit in enumerate(hits, start=1)
    ]
    draft = _drafted(drafter, request.message, evidence)
    if draft.endpoint or MODEL_FAILED in draft.guardrails:
        _audit_remote_call(session, actor, request.department_id, draft, drafter)
    return _public(draft, hits, check(draft.text, evidence))


def _drafted(drafter: Drafter, message: str, evidence: list[Evidence]) -> Draft:
    try:
        return drafter.draft(message, evidence)
    except DraftingError as exc:
        fallback = ExtractiveDrafter().draft(message, evidence)
        return Draft(
            fallback.text,
            fallback.drafter,
            guardrails=(MODEL_FAILED,),
            notes=(f"the model failed ({exc}); this draft is extractive",),
        )


def _audit_remote_call(
    session: Session, actor: str, department_id: int, draft: Draft, drafter: Drafter
) -> None:
    endpoint = draft.endpoint or getattr(drafter, "base_url", "")
    model = draft.model or getattr(drafter, "model", "")
    record_event(
        session,
        actor=actor,
        action="drafting.remote_call",
        obj=get_department(session, department_id),
        after={
            "endpoint": endpoint,
            "model": model,
            "redactions": draft.redactions,
            "guardrails": list(draft.guardrails),
        },
    )


def _public(draft: Draft, hits: list[SearchHit], report: FaithfulnessReport) -> DraftPublic:
    cited = set(cited_numbers(draft.text))
    citations = [
        CitationPublic(
            number=n,
            passage_id=hit.passage_id,
            document=hit.document,
            version=hit.version,
            page=hit.page,
            section=hit.section,
            passage=hit.passage,
            url=hit.url,
            cited=n in cited,
        )
        for n, hit in enumerate(hits, start=1)
    ]
    sentences = [
        SentencePublic(
            sentence=s.sentence,
            cited=list(s.cited),
            support=s.support,
            missing_numbers=list(s.missing_numbers),
            supported=s.supported,
        )
        for s in report.sentences
    ]
    return DraftPublic(
        text=draft.text,
        drafter=draft.drafter,
        model=draft.model,
        citations=citations,
        sentences=sentences,
        faithfulness=round(report.faithfulness, 4),
        has_unsupported_claim=report.has_unsupported_claim,
        guardrails=list(draft.guardrails),
        notes=list(draft.notes),
    )
