"""Keep every draft as it was shown, and the reviewer's verdict on it.

A verdict is given once: accepted as is, edited (the final text kept, with its normalised
Levenshtein distance from the draft, rapidfuzz's) or rejected. Every verdict is audited as
`draft.accept`, `draft.edit` or `draft.reject`, without the text; a verdict on a scored draft
queues the recertification of its process's draft threshold (`deshi.drafting.autosend_state`).
A verdict on a draft does not answer the item's label: the reviewer still does that in the
workbench or through the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session

from deshi.audit import record_event
from deshi.db.base import utcnow
from deshi.db.tables import DraftVerdict, StoredDraft
from deshi.drafting.autosend_state import enqueue_recertify
from deshi.drafting.core import Draft, Evidence, cited_numbers
from deshi.drafting.extractive import NOTHING_FOUND_TEXTS
from deshi.drafting.faithfulness import FaithfulnessReport
from deshi.drafting.models import DraftVerdictCreate, DraftVerdictPublic
from deshi.drafting.remote import INJECTION_GUARDRAIL
from deshi.errors import Conflict, NotFound, ValidationFailed
from deshi.knowledge.vectors import to_bytes
from deshi.permissions import Action, Principal, require

__all__ = ["MODEL_FAILED", "edit_distance", "judge_draft", "judge_draft_for", "store_draft"]

MODEL_FAILED: Final = "model_failed"
_VERDICTS: Final = {
    "accept": DraftVerdict.ACCEPTED,
    "edit": DraftVerdict.EDITED,
    "reject": DraftVerdict.REJECTED,
}
_ACTION_OF: Final = {verdict: action for action, verdict in _VERDICTS.items()}


def edit_distance(draft: str, final: str) -> float:
    """How much of the draft the final text changed: 0 kept as is, 1 nothing kept."""
    return round(float(Levenshtein.normalized_distance(draft.strip(), final.strip())), 4)


def is_refusal(draft: Draft) -> bool:
    """The drafter declined to answer: nothing in the documents, or a guardrail that refused."""
    refused = any(g.startswith("refus") for g in draft.guardrails)
    return refused or draft.text.strip() in NOTHING_FOUND_TEXTS


def store_draft(
    session: Session,
    *,
    actor: str,
    department_id: int,
    draft: Draft,
    evidence: Sequence[Evidence],
    report: FaithfulnessReport,
    process_id: int | None = None,
    item_id: int | None = None,
    label: str | None = None,
    vector: NDArray[np.float32] | None = None,
    examples: int = 0,
    score: float | None = None,
    field: str | None = None,
) -> StoredDraft:
    """The draft as it is shown, with its check and the guardrails that fired (flushed)."""
    passage_of = {e.number: e.passage_id for e in evidence}
    row = StoredDraft(
        department_id=department_id,
        process_id=process_id,
        item_id=item_id,
        label=label,
        vector=to_bytes(vector) if vector is not None else None,
        drafter=draft.drafter[:40],
        model=draft.model[:200],
        text=draft.text,
        citations=[passage_of[n] for n in cited_numbers(draft.text) if n in passage_of],
        examples=examples,
        sentences=len(report.sentences),
        supported_sentences=sum(s.supported for s in report.sentences),
        faithfulness=round(report.faithfulness, 4),
        has_unsupported_claim=report.has_unsupported_claim,
        guardrails=list(draft.guardrails),
        redactions=draft.redactions,
        refusals=int(is_refusal(draft)),
        injection_blocks=int(INJECTION_GUARDRAIL in draft.guardrails),
        model_failures=int(MODEL_FAILED in draft.guardrails),
        created_by=actor[:200],
        score=score,
        field=field,  # the drafting field it filled (None: a reply)
    )
    session.add(row)
    session.flush()
    return row


def judge_draft_for(
    session: Session, *, principal: Principal, draft_id: int, body: DraftVerdictCreate
) -> DraftVerdictPublic:
    """`judge_draft` for someone who may review in the draft's department (NotFound for anyone
    who cannot see it, PermissionDenied for an auditor)."""
    row = session.get(StoredDraft, draft_id)
    if row is None:
        raise NotFound(f"draft {draft_id} not found")
    try:
        require(principal, Action.READ, row.department_id)
    except NotFound:
        raise NotFound(f"draft {draft_id} not found") from None
    require(principal, Action.REVIEW, row.department_id)
    return judge_draft(session, actor=principal.actor, draft_id=draft_id, body=body)


def judge_draft(
    session: Session, *, actor: str, draft_id: int, body: DraftVerdictCreate
) -> DraftVerdictPublic:
    """Record the verdict on a draft as `actor`; Conflict when it was judged already."""
    row = session.get(StoredDraft, draft_id, with_for_update=True)
    if row is None:
        raise NotFound(f"draft {draft_id} not found")
    if row.verdict is not None:
        raise Conflict(f"draft {draft_id} was already {row.verdict.value}")
    verdict, final = _verdict_and_text(row, body)
    row.verdict = verdict
    row.final_text = final
    row.edit_distance = None if final is None else edit_distance(row.text, final)
    row.verdict_by = actor[:200]
    row.verdict_at = utcnow()
    if row.process_id is not None and row.score is not None:  # new evidence for auto-sending
        enqueue_recertify(session, process_id=row.process_id)
    record_event(
        session,
        actor=actor,
        action=f"draft.{_ACTION_OF[verdict]}",
        obj=row,
        before={"department_id": row.department_id, "verdict": None},
        after={
            "department_id": row.department_id,
            "item_id": row.item_id,
            "verdict": verdict.value,
            "edit_distance": row.edit_distance,
        },
    )
    return DraftVerdictPublic(
        id=row.id,
        item_id=row.item_id,
        verdict=verdict,
        final_text=row.final_text,
        edit_distance=row.edit_distance,
        verdict_by=row.verdict_by,
        verdict_at=row.verdict_at,
    )


def _verdict_and_text(
    row: StoredDraft, body: DraftVerdictCreate
) -> tuple[DraftVerdict, str | None]:
    """The verdict and the final text; an edit that changed nothing is an acceptance."""
    if body.verdict != "edit":
        if body.text is not None:
            raise ValidationFailed("only an edit carries a text", field="text")
        return _VERDICTS[body.verdict], row.text if body.verdict == "accept" else None
    if body.text is None or not body.text.strip():
        raise ValidationFailed("an edit needs the final text", field="text")
    if body.text.strip() == row.text.strip():
        return DraftVerdict.ACCEPTED, row.text
    return DraftVerdict.EDITED, body.text.strip()
