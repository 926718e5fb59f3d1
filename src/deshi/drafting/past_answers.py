"""A process's past answers: the drafts reviewers accepted, and the replies they wrote in place
of the drafts they edited. When a new item of the process is drafted, the nearest few are given
to the drafter as examples (data, never instructions: `deshi.drafting.remote` quotes them).

"Nearest" prefers the item's suggested label (an answer to the same kind of request), then the
cosine similarity of the messages in the knowledge base's embedder (the one passages are
searched with). Each draft stores its message's embedding when it is made, so finding past
answers costs one embedding, not one per candidate (embedding 51 short texts took 5 s on the
development machine, one took 0.1–0.3 s); only the most recent `CANDIDATES` answers are compared.
Values drafted for a process's fields (`deshi.processes.draft_fields`) are not replies: they
are never past answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import DraftVerdict, Item, Review, StoredDraft
from deshi.drafting.core import Example, strip_citations
from deshi.drafting.models import PastAnswerPublic
from deshi.knowledge.models import MAX_QUERY_CHARS
from deshi.knowledge.vectors import Embedder, from_bytes

__all__ = ["CANDIDATES", "MAX_EXAMPLES", "as_examples", "message_vector", "past_answers"]

CANDIDATES: Final = 50
MAX_EXAMPLES: Final = 2
_ANSWERED: Final = (DraftVerdict.ACCEPTED, DraftVerdict.EDITED)


def message_vector(embedder: Embedder, message: str) -> NDArray[np.float32]:
    """The embedding a draft's message is stored and compared with."""
    rows = embedder.queries([message[:MAX_QUERY_CHARS]])
    return np.asarray(rows[0], dtype=np.float32)


def past_answers(
    session: Session,
    *,
    process_id: int,
    vector: NDArray[np.float32],
    label: str | None,
    exclude_item: int | None = None,
    limit: int = MAX_EXAMPLES,
) -> list[PastAnswerPublic]:
    """The `limit` past answers of the process nearest to the message embedded as `vector`,
    those of the same label first."""
    rows = session.execute(
        select(StoredDraft, Item.text)
        .join(Item, Item.id == StoredDraft.item_id)
        .where(StoredDraft.process_id == process_id, StoredDraft.verdict.in_(_ANSWERED))
        .where(StoredDraft.field.is_(None))  # a filled field's value is not a reply
        .where(StoredDraft.item_id != (exclude_item or 0))  # ids start at 1
        .order_by(StoredDraft.id.desc())
        .limit(CANDIDATES)
    ).all()
    labels = _final_labels(session, [draft.item_id for draft, _ in rows if draft.item_id])
    found = []
    for draft, text in rows:
        stored = from_bytes(draft.vector) if draft.vector else None
        if stored is None or stored.shape != vector.shape:  # none, or another embedder's
            continue
        found.append(
            PastAnswerPublic(
                draft_id=draft.id,
                item_id=draft.item_id or 0,
                question=text,
                answer=strip_citations(draft.final_text or draft.text),
                label=labels.get(draft.item_id or 0, draft.label),
                similarity=round(float(np.clip(stored @ vector, -1.0, 1.0)), 4),
            )
        )
    found.sort(key=lambda p: (label is None or p.label != label, -p.similarity, -p.draft_id))
    return found[:limit]


def _final_labels(session: Session, item_ids: Sequence[int]) -> dict[int, str]:
    """Each item's label as its latest review left it (items not reviewed yet are absent)."""
    if not item_ids:
        return {}
    reviews = session.execute(
        select(Review.item_id, Review.final_label)
        .where(Review.item_id.in_(set(item_ids)), Review.final_label.is_not(None))
        .order_by(Review.id)
    ).all()
    return {item_id: final for item_id, final in reviews if final is not None}


def as_examples(found: Sequence[PastAnswerPublic]) -> list[Example]:
    """Past answers in the form drafters take."""
    return [Example(question=p.question, answer=p.answer) for p in found]
