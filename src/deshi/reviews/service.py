"""Review use cases: claim the next item with a lease, answer it (feeding learning), release it.

Only the lease holder may answer or release an item, and only while the lease runs; an expired
lease may be claimed by anyone. A claim first gives the caller back the item it still holds
(lease renewed), so reloading a page never strands an item; a skip asks for a fresh one.
Escalated items stay queued for owners and admins only.

Answers on blind items (audit samples, shadow mode, the human-only arm) must name a label: the
stored action is then `accept` when it equals the agent's label and `correct` otherwise, so the
review measures the agent without having shown it.

The reviewer who answered may take the answer back for `UNDO_WINDOW_SECONDS`
(`deshi.reviews.undo`), so a reviewed item's `item.completed` webhook is held back until then.

An archived process takes no more claims or answers (Conflict). An answer naming a label the
process does not have adds it to the label set when the process's `new_labels` setting lets the
caller (reviewers: anyone who may review; owners: only those who manage the process), audited as
`process.labels_added`; otherwise it is refused naming `label`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.base import utcnow
from deshi.db.tables import Decision, Item, Process, Review
from deshi.domain import ItemStatus, NewLabels, ReviewAction
from deshi.drafting.service import awaiting_audit
from deshi.errors import Conflict, ValidationFailed
from deshi.items import events
from deshi.items import repo as items_repo
from deshi.items.models import ItemPublic
from deshi.items.passages import ensure_passages, passages_public
from deshi.items.service import decision_public, is_blind, load_item_for, render_items
from deshi.knowledge import KnowledgeIndex
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import learn_from_review
from deshi.permissions import Action, Principal, can
from deshi.processes.service import get_process_for
from deshi.reviews import repo
from deshi.reviews.models import ClaimedItemPublic, ReviewCreate

__all__ = [
    "COMPLETION_HOLD_SECONDS",
    "DEFAULT_LEASE_SECONDS",
    "UNDO_WINDOW_SECONDS",
    "claim_next",
    "claimed_item",
    "count_waiting",
    "release_item",
    "require_active",
    "submit_review",
    "takes_escalated",
]

DEFAULT_LEASE_SECONDS = 300
# How long the reviewer who answered may take the answer back (`deshi.reviews.undo`): long
# enough to notice a mis-keyed answer right after it, short enough that the item's
# `item.completed` webhook (held back until the window is over) still arrives promptly, and that
# nobody else will have acted on the item meanwhile.
UNDO_WINDOW_SECONDS = 30
# A reviewed `item.completed` is first sent this long after the answer: the undo window plus a
# margin for an undo whose transaction started inside the window and commits just after it.
COMPLETION_HOLD_SECONDS = UNDO_WINDOW_SECONDS + 10


def claim_next(
    session: Session,
    *,
    principal: Principal,
    process_id: int,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    resume_held: bool = True,
    now: datetime | None = None,
    index: KnowledgeIndex | None = None,
) -> ClaimedItemPublic | None:
    """Lease an item to the caller; None if the queue is empty.

    With `resume_held` the caller's own unexpired lease comes first (renewed); otherwise, and
    when it holds none, the next queued item (or one whose lease expired). With an `index` the
    item's evidence passages are found (once) and shown; replays pass none (nobody reads them)."""
    process = get_process_for(session, principal, process_id, Action.REVIEW)
    require_active(process)
    now = now or utcnow()
    expires_at = now + timedelta(seconds=lease_seconds)
    item = None
    if resume_held:
        item = repo.renew_held(
            session,
            process_id=process.id,
            user_id=principal.user_id,
            now=now,
            expires_at=expires_at,
        )
    if item is None:
        item = repo.claim_next(
            session,
            process_id=process.id,
            user_id=principal.user_id,
            now=now,
            expires_at=expires_at,
            include_escalated=takes_escalated(principal, process),
        )
    if item is None:
        return None
    record_event(
        session,
        actor=principal.actor,
        action="item.claim",
        obj=item,
        after={"status": item.status.value, "lease_expires_at": item.lease_expires_at},
    )
    decision = items_repo.decisions_of(session, [item.id]).get(item.id)
    if index is not None:
        ensure_passages(session, process=process, item=item, decision=decision, index=index)
    return claimed_item(session, process, item, decision)


def takes_escalated(principal: Principal, process: Process) -> bool:
    """Whether escalated items are in the caller's queue: only for those who manage the
    process (owners, admins)."""
    return can(principal, Action.MANAGE_PROCESS, process.department_id)


def count_waiting(
    session: Session, *, principal: Principal, process_id: int, now: datetime | None = None
) -> int:
    """How many items of the process the caller could claim now (held ones not counted)."""
    process = get_process_for(session, principal, process_id, Action.REVIEW)
    return repo.count_waiting(
        session,
        process_id=process.id,
        now=now or utcnow(),
        include_escalated=takes_escalated(principal, process),
    )


def claimed_item(
    session: Session, process: Process, item: Item, decision: Decision | None
) -> ClaimedItemPublic:
    """A held item as its reviewer sees it: the suggestion unless the review is blind."""
    blind = is_blind(process, item, decision)
    suggestion = None
    if decision is not None and not blind:
        numbers = items_repo.model_version_numbers(
            session, {decision.model_version_id} if decision.model_version_id else set()
        )
        suggestion = decision_public(decision, numbers)
    assert item.lease_expires_at is not None
    # the would-be-sent draft of an audit sample: its verdict is the drafts' audit evidence
    held_draft = awaiting_audit(session, item.id)
    return ClaimedItemPublic(
        id=item.id,
        process_id=item.process_id,
        external_id=item.external_id,
        text=item.text,
        fields=item.fields,
        entity_key=item.entity_key,
        blind=blind,
        escalated=item.id in items_repo.escalated_ids(session, [item.id]),
        labels=list(process.labels),
        lease_expires_at=item.lease_expires_at,
        suggestion=suggestion,
        evidence_passages=passages_public(decision) or [],
        draft_id=held_draft.id if held_draft is not None else None,
    )


def require_active(process: Process) -> None:
    """Conflict when the process is archived: its items take no more reviews."""
    if process.archived_at is not None:
        raise Conflict(f"process {process.id} is archived: its items take no more reviews")


def _require_lease(item: Item, principal: Principal, now: datetime) -> None:
    held = (
        item.status is ItemStatus.CLAIMED
        and item.lease_owner == principal.user_id
        and item.lease_expires_at is not None
        and item.lease_expires_at > now
    )
    if not held:
        raise Conflict(f"you do not hold a lease on item {item.id}: claim it first")


def submit_review(
    session: Session,
    *,
    principal: Principal,
    item_id: int,
    answer: ReviewCreate,
    registry: AgentRegistry,
    now: datetime | None = None,
) -> ItemPublic:
    """Record the lease holder's answer, complete the item (escalate: back to the queue for an
    owner) and let the agent learn from it at once."""
    item, process = load_item_for(
        session, principal=principal, item_id=item_id, action=Action.REVIEW
    )
    require_active(process)
    now = now or utcnow()
    _require_lease(item, principal, now)
    decision = items_repo.decisions_of(session, [item.id]).get(item.id)
    blind = is_blind(process, item, decision)
    action, label = _final_answer(answer, decision, blind=blind)
    labels_before = list(process.labels)
    if label is not None and label not in labels_before:
        _require_may_add_label(principal, process, label)
        process.labels = [*labels_before, label]  # the label set grows with the work
    review = Review(
        item_id=item.id,
        reviewer_id=principal.user_id,
        action=action,
        final_label=label,
        seconds=answer.seconds,
        blind=blind,
        created_at=now,
    )
    session.add(review)
    item.status = ItemStatus.QUEUED if label is None else ItemStatus.COMPLETED
    item.completed_at = None if label is None else now
    item.lease_owner, item.lease_expires_at = None, None
    session.flush()
    if label is not None and decision is not None:
        # Before the audit event: everywhere the agent's lock is taken before the audit chain's
        # lock (learning may append its own events), so two requests never wait on each other.
        learn_from_review(
            session,
            process=process,
            item=item,
            decision=decision,
            review=review,
            registry=registry,
        )
    if label is not None:
        _publish_completed(
            session,
            process=process,
            item=item,
            label=label,
            decision=decision,
            not_before=now + timedelta(seconds=COMPLETION_HOLD_SECONDS),
        )
    if process.labels != labels_before:
        record_event(
            session,
            actor=principal.actor,
            action="process.labels_added",
            obj=process,
            before={"labels": labels_before},
            after={"labels": list(process.labels)},
        )
    record_event(
        session,
        actor=principal.actor,
        action="item.review",
        obj=review,
        after={**snapshot(review), "item_status": item.status.value},
    )
    [public] = render_items(session, principal=principal, process=process, items=[item])
    return public


def _require_may_add_label(principal: Principal, process: Process, label: str) -> None:
    """ValidationFailed naming `label` when the process lets only its owners add labels and the
    caller does not manage it."""
    owners_only = process.new_labels == NewLabels.OWNERS
    if owners_only and not can(principal, Action.MANAGE_PROCESS, process.department_id):
        raise ValidationFailed(
            f"{label!r} is not one of the process's labels, and only its owners may add labels",
            field="label",
        )


def _publish_completed(
    session: Session,
    *,
    process: Process,
    item: Item,
    label: str,
    decision: Decision | None,
    not_before: datetime,
) -> None:
    """Queue the `item.completed` webhook event of a reviewed item, sent from `not_before`."""
    route, version = None, None
    if decision is not None:
        version_id = decision.model_version_id
        numbers = items_repo.model_version_numbers(session, {version_id} if version_id else set())
        route, version = decision.route.value, numbers.get(version_id, 0) if version_id else 0
    events.publish_completed(
        session,
        process=process,
        item=item,
        label=label,
        route=route,
        model_version=version,
        not_before=not_before,
    )


def _final_answer(
    answer: ReviewCreate, decision: Decision | None, *, blind: bool
) -> tuple[ReviewAction, str | None]:
    """The stored action and final label; ValidationFailed naming `label` when it is missing."""
    suggested = decision.label if decision is not None else None
    if answer.action is ReviewAction.ESCALATE:
        return ReviewAction.ESCALATE, None
    if answer.label is None:
        if answer.action is ReviewAction.CORRECT or blind or suggested is None:
            raise ValidationFailed("a label is required for this answer", field="label")
        return ReviewAction.ACCEPT, suggested
    if blind:
        same = answer.label == suggested
        return (ReviewAction.ACCEPT if same else ReviewAction.CORRECT), answer.label
    if answer.action is ReviewAction.ACCEPT and answer.label != suggested:
        raise ValidationFailed("accept keeps the suggested label; use correct", field="label")
    if answer.action is ReviewAction.CORRECT and answer.label == suggested:
        return ReviewAction.ACCEPT, answer.label
    return answer.action, answer.label


def release_item(
    session: Session, *, principal: Principal, item_id: int, now: datetime | None = None
) -> ItemPublic:
    """Give a claimed item back to the queue before its lease ends (lease holder only)."""
    item, process = load_item_for(
        session, principal=principal, item_id=item_id, action=Action.REVIEW
    )
    _require_lease(item, principal, now or utcnow())
    item.status, item.lease_owner, item.lease_expires_at = ItemStatus.QUEUED, None, None
    record_event(
        session,
        actor=principal.actor,
        action="item.release",
        obj=item,
        before={"status": ItemStatus.CLAIMED.value, "lease_owner": principal.user_id},
        after={"status": item.status.value},
    )
    [public] = render_items(session, principal=principal, process=process, items=[item])
    return public
