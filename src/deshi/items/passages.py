"""Evidence passages: the department's documents that bear on an item, kept with its decision.

When they are found: lazily, the first time the item is shown to a person (a review claim, in
the workbench or over the API; the lineage page) or read with `GET /items/{id}`, and then
stored on the decision row (document, version, passage id, page, section, score, excerpt) with
the time, so every later view, the lineage included, shows exactly what the reviewer saw, even
after the documents get new versions or are removed.

Why not at ingest: ingest must stay fast (≥ 1,000 items/s in batches) and a query embedding
costs ~50 ms of a core (multilingual-e5-small reads ~20 texts/s), so embedding every item
would cap ingest at a few dozen items/s, for items most of which nobody ever looks at
(auto-completed ones). A first view pays one embedding and two ranked queries instead, and a
department without documents pays one indexed count: it gives nothing and stores `[]`, so
documents added later never rewrite what a past reviewer was shown.

Who sees them: whoever may read the item, because reading items and reading the knowledge base
are the same `read` right in the same department, and the passages come from the item's
department only. They are shown to blind reviews too (like the draft panel): they are found
from the item's text alone and carry nothing of the agent's suggestion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import Decision, Item, Process
from deshi.items.models import EvidencePassagePublic
from deshi.knowledge import KnowledgeIndex, evidence_for
from deshi.knowledge.links import passage_url, source_url

__all__ = [
    "EXCERPT_CHARS",
    "TOP_PASSAGES",
    "ensure_passages",
    "find_passages",
    "passages_public",
    "store_passages",
]

TOP_PASSAGES: Final = 3
EXCERPT_CHARS: Final = 280


def ensure_passages(
    session: Session,
    *,
    process: Process,
    item: Item,
    decision: Decision | None,
    index: KnowledgeIndex,
    now: datetime | None = None,
) -> None:
    """Find and store the decision's evidence passages unless it has them already.

    The write only fills a row that has none, so when two first views race the first one's
    passages stay and the other reads them back.
    """
    if decision is None or decision.evidence_passages is not None:
        return
    found = find_passages(session, process=process, item=item, index=index)
    store_passages(session, decision_id=decision.id, passages=found, now=now)
    session.refresh(decision, ["evidence_passages", "passages_retrieved_at"])


def find_passages(
    session: Session, *, process: Process, item: Item, index: KnowledgeIndex
) -> list[dict[str, Any]]:
    """The item's evidence passages as they are stored on its decision (reads only)."""
    hits = evidence_for(
        session,
        department_id=process.department_id,
        text=item.text,
        top_k=TOP_PASSAGES,
        index=index,
    )
    return [
        {
            "passage_id": hit.passage_id,
            "document_id": hit.document_id,
            "document": hit.document,
            "version": hit.version,
            "page": hit.page,
            "section": hit.section,
            "excerpt": _excerpt(hit.passage),
            "score": hit.score,
        }
        for hit in hits
    ]


def store_passages(
    session: Session,
    *,
    decision_id: int,
    passages: list[dict[str, Any]],
    now: datetime | None = None,
) -> bool:
    """Store passages on a decision that has none; False when it had some already."""
    stored = session.execute(
        update(Decision)
        .where(Decision.id == decision_id, Decision.evidence_passages.is_(None))
        .values(evidence_passages=passages, passages_retrieved_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(stored, "rowcount", 0))


def passages_public(decision: Decision | None) -> list[EvidencePassagePublic] | None:
    """The decision's stored passages with their links; None when none were looked for."""
    if decision is None or decision.evidence_passages is None:
        return None
    return [_public(entry) for entry in decision.evidence_passages]


def _public(entry: dict[str, Any]) -> EvidencePassagePublic:
    document_id, version = int(entry["document_id"]), int(entry["version"])
    return EvidencePassagePublic(
        **entry,
        url=passage_url(document_id, version, int(entry["passage_id"])),
        source_url=source_url(document_id, version, entry["page"]),
    )


def _excerpt(text: str) -> str:
    """The passage's start, cut at a word (or character, for Japanese) with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > EXCERPT_CHARS // 2 else cut).rstrip() + "…"
