"""Draft a reply to a message from a department's knowledge base, check it, audit the call.

The drafter is injected (`make_drafter` builds the workspace's from its settings): extractive
by default, an OpenAI-compatible model when one is configured, with the extractive drafter as
its fallback when the model fails or a guardrail stops the call. A call to a remote model is
recorded in the audit log (endpoint, model, how many personal data were redacted, the
guardrails) without any of the text.

Every draft is stored (`deshi.drafting.verdicts`) so a reviewer can accept, edit or reject it.
A draft for an item also gets the process's nearest past answers as examples
(`deshi.drafting.past_answers`): what reviewers accepted or wrote teaches the next draft.
It is also given the process owner's guidance for the item's suggested label
(`deshi.processes.label_guidance`), which the language-model drafters follow and the extractive
one cannot; the draft's notes say which happened.

A request for an item may name one of its process's drafting fields instead
(`deshi.processes.draft_fields`): the passages are searched for the field's instruction and the
item's text, the drafter is asked for the value alone (`field_instruction`), and the value is
checked and stored like a reply, marked with its field. A value is not a reply: it gets no past
answers or label guidance, no score for sending without review, and no held audit draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import record_event
from deshi.db import transaction
from deshi.db.tables import Decision, Item, Process, StoredDraft
from deshi.drafting.autosend import Outcome, draft_score
from deshi.drafting.core import Draft, Drafter, Evidence, Example, cited_numbers
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.faithfulness import FaithfulnessReport, check
from deshi.drafting.local import local_drafter
from deshi.drafting.models import (
    CitationPublic,
    DraftPublic,
    DraftRequest,
    NotePublic,
    PastAnswerPublic,
    SentencePublic,
)
from deshi.drafting.notes import DraftNote, NoteKey, note
from deshi.drafting.past_answers import as_examples, message_vector, past_answers
from deshi.drafting.remote import ChatDrafter, DraftingError
from deshi.drafting.verdicts import MODEL_FAILED, store_draft
from deshi.errors import NotFound, ValidationFailed
from deshi.knowledge import KnowledgeIndex, search
from deshi.knowledge.models import SearchHit
from deshi.permissions import Action, Principal, require
from deshi.processes.draft_fields import instruction_for
from deshi.processes.label_guidance import guidance_for
from deshi.processes.service import get_department
from deshi.settings import Settings

__all__ = [
    "Gathered",
    "awaiting_audit",
    "draft_reply",
    "draft_reply_in_steps",
    "drafted",
    "gather_evidence",
    "make_drafter",
    "record_draft",
]


def make_drafter(settings: Settings, client: httpx.Client | None = None) -> Drafter:
    """The workspace's drafter (`DESHI_LLM_PROVIDER`): the local model, a chat model when
    `DESHI_LLM_BASE_URL` is set, else extractive."""
    extractive = ExtractiveDrafter()
    if settings.llm_provider == "local":
        return local_drafter(settings, fallback=extractive)
    if settings.llm_base_url is None or settings.llm_provider == "extractive":
        return extractive
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatDrafter(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        client=client or httpx.Client(timeout=settings.llm_timeout_seconds, trust_env=False),
        fallback=extractive,
        api_key=key,
        structured=settings.llm_structured_output,
    )


def draft_reply_in_steps(
    factory: sessionmaker[Session],
    *,
    actor: str,
    request: DraftRequest,
    drafter: Drafter,
    index: KnowledgeIndex,
    principal: Principal | None = None,
) -> DraftPublic:
    """`draft_reply` in three steps, as the autosend job drafts (with a `principal`, for
    someone with a role in the department only: NotFound for anyone else, as if the department
    did not exist): read the passages and past answers in a read-only transaction, draft
    with no transaction open, store the draft in a short write transaction. A model drafts for
    seconds (the local one) to minutes (a remote one's timeout), and on SQLite a transaction
    that holds the write lock that long makes every other writer of the workspace (ingest,
    reviews) fail after the busy timeout."""
    with transaction(factory, lock_early=False) as session:
        if principal is not None:
            try:
                require(principal, Action.READ, request.department_id)
            except NotFound:
                raise NotFound(f"department {request.department_id} not found") from None
        gathered = gather_evidence(session, request=request, index=index)
        held = _held_for_audit(session, gathered)
        if held is not None:
            return held
    draft = drafted(drafter, gathered)
    with transaction(factory) as session:
        row, report = record_draft(
            session, actor=actor, gathered=gathered, draft=draft, drafter=drafter
        )
        return _public(row, draft, gathered.hits, report, gathered.examples)


@dataclass(frozen=True, slots=True)
class _Target:
    """The item a draft answers, its process, the label the agent suggested for it with its
    confidence, the owner's drafting guidance for that label ("" for none), and the drafting
    field to fill instead of a reply with its instruction (None and "" for a reply)."""

    item_id: int
    process_id: int
    label: str | None
    confidence: float | None = None
    guidance: str = ""
    field: str | None = None
    instruction: str = ""


@dataclass(frozen=True, slots=True)
class Gathered:
    """What a drafter is given for a request: the passages found, the item it answers and the
    process's similar past answers (read in one transaction, before the slow drafting)."""

    request: DraftRequest
    target: _Target | None
    hits: list[SearchHit]
    evidence: list[Evidence]
    examples: list[PastAnswerPublic]
    vector: NDArray[np.float32] | None


def draft_reply(
    session: Session,
    *,
    actor: str,
    request: DraftRequest,
    drafter: Drafter,
    index: KnowledgeIndex,
) -> DraftPublic:
    """A draft for `request.message` from the department's passages, checked sentence by
    sentence and stored; a call to a remote model is audited as `actor`. An item whose
    would-be-sent draft awaits its blind audit gets that draft back, not a new one: the
    reviewer's verdict on it is the audit's evidence (`deshi.drafting.autosend`)."""
    gathered = gather_evidence(session, request=request, index=index)
    held = _held_for_audit(session, gathered)
    if held is not None:
        return held
    draft = drafted(drafter, gathered)
    row, report = record_draft(
        session, actor=actor, gathered=gathered, draft=draft, drafter=drafter
    )
    return _public(row, draft, gathered.hits, report, gathered.examples)


def _held_for_audit(session: Session, gathered: Gathered) -> DraftPublic | None:
    """The item's would-be-sent draft awaiting its blind audit, checked again against the
    passages found now; None when there is none (a new draft is made)."""
    item_id = gathered.request.item_id
    filling = gathered.request.field is not None  # a field's value is never held
    held = awaiting_audit(session, item_id) if item_id is not None and not filling else None
    if held is None:
        return None
    draft = Draft(held.text, held.drafter, tuple(held.guardrails), model=held.model)
    report = check(draft.text, gathered.evidence)
    return _public(held, draft, gathered.hits, report, gathered.examples)


def gather_evidence(session: Session, *, request: DraftRequest, index: KnowledgeIndex) -> Gathered:
    """The passages for the request's message (a field's instruction first, when filling one)
    and, for an item's reply, its past answers (reads only)."""
    target = _target(session, request)
    filling = target is not None and target.field is not None
    asked = f"{target.instruction}\n" if target is not None and filling else ""
    hits = search(
        session,
        department_id=request.department_id,
        query=f"{asked}{request.message}",
        top_k=request.top_k,
        index=index,
    )
    evidence = [
        Evidence(n, hit.passage_id, hit.document, hit.passage, hit.url)
        for n, hit in enumerate(hits, start=1)
    ]
    examples: list[PastAnswerPublic] = []
    vector = None
    if target is not None and not filling:
        vector = message_vector(index.embedder, request.message)
        examples = past_answers(
            session,
            process_id=target.process_id,
            vector=vector,
            label=target.label,
            exclude_item=target.item_id,
        )
    return Gathered(request, target, hits, evidence, examples, vector)


def drafted(drafter: Drafter, gathered: Gathered) -> Draft:
    """The drafter's draft (the slow part: run it with no transaction open), following the
    guidance for the item's label when the drafter can, its notes saying whether it did; for a
    field, its value alone (no guidance or past answers: they are about replies)."""
    examples = as_examples(gathered.examples)
    target = gathered.target
    if target is not None and target.field is not None:
        message, evidence = gathered.request.message, gathered.evidence
        return _drafted(drafter, message, evidence, (), "", field_instruction=target.instruction)
    guidance = target.guidance if target is not None else ""
    draft = _drafted(drafter, gathered.request.message, gathered.evidence, examples, guidance)
    if not guidance or target is None:
        return draft
    return replace(draft, notes=(*draft.notes, _guidance_note(draft, str(target.label))))


def _guidance_note(draft: Draft, label: str) -> DraftNote:
    if draft.guided:
        return note(NoteKey.GUIDANCE_FOLLOWED, label=label)
    return note(NoteKey.GUIDANCE_NOT_FOLLOWED, label=label, drafter=draft.drafter)


def record_draft(
    session: Session, *, actor: str, gathered: Gathered, draft: Draft, drafter: Drafter
) -> tuple[StoredDraft, FaithfulnessReport]:
    """Check the draft, store it with its score, and audit a call to a remote model."""
    request, target = gathered.request, gathered.target
    if draft.endpoint or MODEL_FAILED in draft.guardrails:
        _audit_remote_call(session, actor, request.department_id, draft, drafter)
    report = check(draft.text, gathered.evidence)
    row = store_draft(
        session,
        actor=actor,
        department_id=request.department_id,
        draft=draft,
        evidence=gathered.evidence,
        report=report,
        process_id=target.process_id if target else None,
        item_id=target.item_id if target else None,
        label=target.label if target else None,
        vector=gathered.vector,
        examples=len(gathered.examples),
        score=draft_score(target.confidence, report) if target and not target.field else None,
        field=target.field if target else None,
    )
    return row, report


def _target(session: Session, request: DraftRequest) -> _Target | None:
    """The item the request names, if any; NotFound unless it is in the request's department,
    ValidationFailed (naming `field`) for a field without an item or not of its process."""
    if request.item_id is None:
        if request.field is not None:
            raise ValidationFailed("a field is filled for an item: give item_id", field="field")
        return None
    item = session.get(Item, request.item_id)
    process = session.get(Process, item.process_id) if item is not None else None
    if item is None or process is None or process.department_id != request.department_id:
        raise NotFound(f"item {request.item_id} not found")
    if request.field is not None:
        return _field_target(item, process, request.field)
    decision = session.execute(
        select(Decision.label, Decision.confidence)
        .where(Decision.item_id == item.id)
        .order_by(Decision.id.desc())
        .limit(1)
    ).first()
    if decision is None:
        return _Target(item.id, process.id, None)
    guidance = guidance_for(process.label_guidance, decision.label)
    return _Target(item.id, process.id, decision.label, decision.confidence, guidance)


def _field_target(item: Item, process: Process, field: str) -> _Target:
    """The item's field to fill; ValidationFailed naming `field` when the process has none
    of that name."""
    instruction = instruction_for(process.draft_fields, field)
    if instruction is None:
        known = ", ".join(sorted(process.draft_fields or {})) or "none"
        raise ValidationFailed(
            f"{field!r} is not a drafting field of process {process.id} (its fields: {known})",
            field="field",
        )
    return _Target(item.id, process.id, None, field=field, instruction=instruction)


def awaiting_audit(session: Session, item_id: int) -> StoredDraft | None:
    """The item's would-be-sent draft that awaits the reviewer's verdict in the blind audit."""
    return session.scalars(
        select(StoredDraft)
        .where(
            StoredDraft.item_id == item_id,
            StoredDraft.autosend == Outcome.AUDIT_SAMPLE.value,
            StoredDraft.verdict.is_(None),
        )
        .order_by(StoredDraft.id.desc())
        .limit(1)
    ).first()


def _drafted(
    drafter: Drafter,
    message: str,
    evidence: list[Evidence],
    examples: Sequence[Example],
    guidance: str,
    *,
    field_instruction: str = "",
) -> Draft:
    try:
        if field_instruction:  # only then: a reply's call stays the protocol's plain one
            return drafter.draft(message, evidence, field_instruction=field_instruction)
        return drafter.draft(message, evidence, examples, guidance=guidance)
    except DraftingError as exc:
        extractive = ExtractiveDrafter()
        fallback = extractive.draft(message, evidence, field_instruction=field_instruction)
        return Draft(
            fallback.text,
            fallback.drafter,
            guardrails=(MODEL_FAILED,),
            notes=(note(NoteKey.MODEL_FAILED, reason=str(exc)),),
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


def _public(
    row: StoredDraft,
    draft: Draft,
    hits: list[SearchHit],
    report: FaithfulnessReport,
    examples: list[PastAnswerPublic],
) -> DraftPublic:
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
        id=row.id,
        item_id=row.item_id,
        field=row.field,
        text=draft.text,
        drafter=draft.drafter,
        model=draft.model,
        citations=citations,
        sentences=sentences,
        faithfulness=round(report.faithfulness, 4),
        has_unsupported_claim=report.has_unsupported_claim,
        guardrails=list(draft.guardrails),
        notes=[n.text for n in draft.notes],
        note_keys=[NotePublic.of(n) for n in draft.notes],
        past_answers=examples,
    )
