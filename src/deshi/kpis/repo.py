"""SQL for the KPIs: turn a process's items, decisions, reviews and model versions into the
plain records of `deshi.kpis.records`.

Three range reads (items, their decisions, their reviews) assembled in Python keep the SQL
portable between SQLite and PostgreSQL; one item becomes one `ItemRecord`:

- route, agent label and confidence come from the item's latest decision (undecided items are
  left out: no KPI is defined on them);
- the review outcome is the latest review that gave a final label (else the latest escalation);
- handling time is the sum of every review's seconds on the item (escalations cost time too);
- the suggestion counts as shown when that review was not blind;
- items without a randomized arm count in the arm their process's mode implies (shadow: humans
  do all the work unaided; assist: assisted; autopilot: AI-led).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.tables import Decision, Item, ModelVersion, Process, Review, User
from deshi.domain import ItemOrigin, Mode
from deshi.engine.types import RouteReason
from deshi.kpis.records import ARMS, Arm, ItemRecord, ModelEvent, ReviewAction, RouteName

__all__ = [
    "latest_decision_suspended",
    "load_history_handling_seconds",
    "load_item_records",
    "load_model_events",
    "owner_name",
]

_MODE_ARM: dict[Mode, Arm] = {
    Mode.SHADOW: "human_only",
    Mode.ASSIST: "assisted",
    Mode.AUTOPILOT: "ai_led",
}


def load_item_records(
    session: Session,
    process: Process,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[ItemRecord]:
    """The process's decided live items created in [start, end), oldest first (imported
    history is not live work: it is left out)."""
    query = (
        select(Item)
        .where(Item.process_id == process.id, Item.origin == ItemOrigin.LIVE.value)
        .order_by(Item.created_at, Item.id)
    )
    if start is not None:
        query = query.where(Item.created_at >= start)
    if end is not None:
        query = query.where(Item.created_at < end)
    items = list(session.scalars(query))
    ids = [item.id for item in items]
    decisions = _latest_decisions(session, ids)
    reviews = _reviews_by_item(session, ids)
    fallback = _MODE_ARM[process.mode]
    return [
        _record(item, decisions[item.id], reviews.get(item.id, []), fallback)
        for item in items
        if item.id in decisions
    ]


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """Id lists short enough for an IN clause on every backend."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _latest_decisions(session: Session, ids: Sequence[int]) -> dict[int, Decision]:
    latest: dict[int, Decision] = {}
    for chunk in _chunks(ids):
        query = select(Decision).where(Decision.item_id.in_(chunk)).order_by(Decision.id)
        for decision in session.scalars(query):
            latest[decision.item_id] = decision
    return latest


def _reviews_by_item(session: Session, ids: Sequence[int]) -> dict[int, list[Review]]:
    grouped: dict[int, list[Review]] = defaultdict(list)
    for chunk in _chunks(ids):
        query = select(Review).where(Review.item_id.in_(chunk)).order_by(Review.id)
        for review in session.scalars(query):
            grouped[review.item_id].append(review)
    return dict(grouped)


def _outcome(reviews: Sequence[Review]) -> Review | None:
    """The review that settled the item: the latest with a final label, else the latest one."""
    labelled = [review for review in reviews if review.final_label is not None]
    if labelled:
        return labelled[-1]
    return reviews[-1] if reviews else None


def _arm(item: Item, fallback: Arm) -> Arm:
    for arm in ARMS:
        if item.arm == arm:
            return arm
    return fallback


def _record(item: Item, decision: Decision, reviews: Sequence[Review], fallback: Arm) -> ItemRecord:
    outcome = _outcome(reviews)
    route: RouteName = decision.route.value
    action: ReviewAction | None = None if outcome is None else outcome.action.value
    return ItemRecord(
        created_at=item.created_at,
        arm=_arm(item, fallback),
        route=route,
        agent_label=decision.label,
        final_label=None if outcome is None else outcome.final_label,
        review_action=action,
        handling_seconds=sum(max(review.seconds or 0.0, 0.0) for review in reviews),
        reviewer_id=None if outcome is None else str(outcome.reviewer_id),
        completed_at=item.completed_at,
        confidence=min(max(decision.confidence, 0.0), 1.0),
        suggestion_shown=None if outcome is None else not outcome.blind,
    )


def load_history_handling_seconds(session: Session, process_id: int) -> list[float]:
    """The handling times imported with the process's history (rows that carried one)."""
    query = select(Item.handling_seconds).where(
        Item.process_id == process_id,
        Item.origin == ItemOrigin.HISTORY.value,
        Item.handling_seconds.is_not(None),
    )
    return [float(seconds) for seconds in session.scalars(query) if seconds is not None]


def load_model_events(session: Session, process_id: int) -> list[ModelEvent]:
    """Promotions of the process's models with their held-out accuracy, oldest first.

    Accuracy is the challenger's held-out share right when the retrain measured one, else the
    out-of-fold accuracy of training; versions with neither are left out.
    """
    query = (
        select(ModelVersion)
        .where(ModelVersion.process_id == process_id, ModelVersion.promoted_at.is_not(None))
        .order_by(ModelVersion.promoted_at)
    )
    events: list[ModelEvent] = []
    for version in session.scalars(query):
        accuracy = _held_out_accuracy(version.metrics)
        if accuracy is not None and version.promoted_at is not None:
            events.append(ModelEvent(version.promoted_at, accuracy, version.trained_on))
    return events


def _held_out_accuracy(metrics: dict[str, object]) -> float | None:
    holdout, correct = metrics.get("holdout"), metrics.get("challenger_correct")
    if isinstance(holdout, int) and isinstance(correct, int) and holdout > 0:
        return correct / holdout
    oof = metrics.get("oof_accuracy")
    return float(oof) if isinstance(oof, int | float) and 0.0 <= oof <= 1.0 else None


def owner_name(session: Session, process: Process) -> str | None:
    """The display name of the process owner, None when nobody owns it."""
    if process.owner_user_id is None:
        return None
    user = session.get(User, process.owner_user_id)
    return None if user is None else user.display_name


def latest_decision_suspended(session: Session, process_id: int) -> datetime | None:
    """When the newest decision was taken while autopilot was suspended; None otherwise."""
    query = (
        select(Decision.reason_code, Decision.created_at)
        .join(Item, Item.id == Decision.item_id)
        .where(Item.process_id == process_id)
        .order_by(Decision.id.desc())
        .limit(1)
    )
    row = session.execute(query).first()
    if row is None or row[0] is not RouteReason.SUSPENDED:
        return None
    suspended_at: datetime = row[1]
    return suspended_at
