"""Undo the last answer: the reviewer who answered an item takes the answer back, briefly.

Within `UNDO_WINDOW_SECONDS` of an answer (accept, correct or escalate) its reviewer may undo
it; the item is then held by them again (a fresh lease), so the workbench shows it again and the
next answer is an ordinary one. After the window, for anybody else, or once somebody else has
acted on the item, undo is refused.

The undo withdraws the answer everywhere it counted, so nothing counts it twice:

- **the review row is deleted.** The reviews table holds the answers that stand; KPIs, the
  lineage page and learning read only those, exactly as if the withdrawn answer had never been
  given. The audit log keeps every answer ever given: the answer's `item.review` event stays,
  and the undo is a new `review.undo` event whose `before` is the withdrawn review's snapshot.
  Whoever counts answers in the audit log subtracts `review.undo` events.
- **the case memory forgets the label.** A labelled answer reached the agent's case memory at
  once, so undo bumps the process's `memory_epoch`: every agent registry (in every API and worker
  process) rebuilds that process's memory from the stored reviews on next use. A model version
  trained since the answer may have learned from it; then a `relearn` retrain is queued (it runs
  although no new label arrived), whose version learns without it (the audit event says
  `retrain_queued`). With no label left at all nothing can be trained: the version stays until
  the next answer.
- **webhooks never hear of it.** A reviewed item's `item.completed` is held back until the
  window is over (`COMPLETION_HOLD_SECONDS`), so undo deletes it before it was sent; receivers
  get exactly one `item.completed`, for the answer that stands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.base import utcnow
from deshi.db.tables import Item, ModelVersion, Process, Review
from deshi.domain import ItemStatus
from deshi.errors import Conflict, PermissionDenied
from deshi.items import repo as items_repo
from deshi.items.service import load_item_for
from deshi.learning.service import enqueue_retrain
from deshi.permissions import Action, Principal
from deshi.reviews.models import ClaimedItemPublic
from deshi.reviews.service import (
    DEFAULT_LEASE_SECONDS,
    UNDO_WINDOW_SECONDS,
    claimed_item,
    require_active,
)
from deshi.webhooks import ITEM_COMPLETED, withdraw_unsent

__all__ = ["undo_review"]


def undo_review(
    session: Session,
    *,
    principal: Principal,
    item_id: int,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    now: datetime | None = None,
) -> ClaimedItemPublic:
    """Take back the caller's last answer on an item within the undo window; the item is held
    by the caller again. PermissionDenied when the answer is someone else's, Conflict when
    there is none, the window is over or the item has moved on since."""
    item, process = load_item_for(
        session, principal=principal, item_id=item_id, action=Action.REVIEW
    )
    require_active(process)
    now = now or utcnow()
    review = _last_review(session, item.id)
    _require_undoable(item, review, principal, now)
    assert review is not None
    before = {"review": snapshot(review), "item_status": item.status.value}
    learned, answered_at = review.final_label is not None, review.created_at
    session.delete(review)
    item.status, item.completed_at = ItemStatus.CLAIMED, None
    item.lease_owner = principal.user_id
    item.lease_expires_at = now + timedelta(seconds=lease_seconds)
    after = {
        "status": item.status.value,
        "lease_owner": principal.user_id,
        "memory_retracted": learned,
        "retrain_queued": learned and _retrain_if_trained_since(session, process, answered_at),
        "webhooks_withdrawn": withdraw_unsent(
            session, process=process, event=ITEM_COMPLETED, item_id=item.id
        ),
    }
    if learned:
        process.memory_epoch += 1  # every registry rebuilds this memory without the label
    session.flush()
    record_event(
        session, actor=principal.actor, action="review.undo", obj=item, before=before, after=after
    )
    decision = items_repo.decisions_of(session, [item.id]).get(item.id)
    return claimed_item(session, process, item, decision)


def _last_review(session: Session, item_id: int) -> Review | None:
    query = select(Review).where(Review.item_id == item_id).order_by(Review.id.desc()).limit(1)
    return session.scalars(query).first()


def _require_undoable(
    item: Item, review: Review | None, principal: Principal, now: datetime
) -> None:
    """Refuse an undo that would not give back exactly what the caller answered."""
    if review is None:
        raise Conflict(f"item {item.id} has no answer to undo")
    if review.reviewer_id != principal.user_id:
        raise PermissionDenied(f"only the reviewer who answered item {item.id} may undo it")
    age = (now - review.created_at).total_seconds()
    if age > UNDO_WINDOW_SECONDS:
        raise Conflict(
            f"the answer on item {item.id} was given {age:.0f} s ago; an answer can be undone "
            f"only within {UNDO_WINDOW_SECONDS} s"
        )
    left_as = ItemStatus.QUEUED if review.final_label is None else ItemStatus.COMPLETED
    if item.status is not left_as:
        raise Conflict(f"item {item.id} was taken up again since your answer; it cannot be undone")


def _retrain_if_trained_since(session: Session, process: Process, answered_at: datetime) -> bool:
    """Queue a retrain when a model version was trained since the answer (it may have learned
    the withdrawn label); True when one was queued."""
    newer = session.scalar(
        select(ModelVersion.id)
        .where(ModelVersion.process_id == process.id, ModelVersion.created_at >= answered_at)
        .limit(1)
    )
    if newer is None:
        return False
    enqueue_retrain(session, process_id=process.id, relearn=True)
    return True
