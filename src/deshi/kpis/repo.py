"""SQL for the KPIs: turn a process's items, decisions, reviews and model versions into the
plain records of `deshi.kpis.records`.

Two range reads (the items joined to their decisions, and their reviews joined to the same item
filter: only the columns a record needs, no ORM objects) assembled in Python keep the SQL
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

from sqlalchemy import ColumnElement, String, select, type_coerce
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

# the columns a record needs of an item with its decision, and of its reviews, as plain tuples
# (a Row's attribute access costs more than the rest of building a record); the enums are read
# as their stored values, which are the records' literals
_DecidedRow = tuple[int, datetime, str | None, datetime | None, str | None, float, str]
_ReviewRow = tuple[int, int, str, str | None, float | None, bool]
_FINAL_LABEL = 3

_MODE_ARM: dict[Mode, Arm] = {
    Mode.SHADOW: "human_only",
    Mode.ASSIST: "assisted",
    Mode.AUTOPILOT: "ai_led",
}
_ARMS: dict[str | None, Arm] = {arm: arm for arm in ARMS}  # a stored arm, else the mode's
_ROUTES: dict[str, RouteName] = {"auto": "auto", "review": "review", "audit": "audit"}
_ACTIONS: dict[str, ReviewAction] = {
    "accept": "accept",
    "correct": "correct",
    "escalate": "escalate",
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
    chosen = [Item.process_id == process.id, Item.origin == ItemOrigin.LIVE.value]
    if start is not None:
        chosen.append(Item.created_at >= start)
    if end is not None:
        chosen.append(Item.created_at < end)
    decided = _decided_items(session, chosen)
    reviews = _reviews_by_item(session, chosen)
    fallback = _MODE_ARM[process.mode]
    last = len(decided) - 1
    return [
        _record(row, reviews.get(row[0], ()), fallback)
        for index, row in enumerate(decided)
        if index == last or decided[index + 1][0] != row[0]  # the item's latest decision
    ]


def _decided_items(session: Session, chosen: Sequence[ColumnElement[bool]]) -> list[_DecidedRow]:
    """The chosen items, oldest first, each with its decisions, oldest first: one read (an
    inner join: undecided items are left out)."""
    query = (
        select(
            Item.id,
            Item.created_at,
            Item.arm,
            Item.completed_at,
            Decision.label,
            Decision.confidence,
            type_coerce(Decision.route, String()),
        )
        .join(Decision, Decision.item_id == Item.id)
        .where(*chosen)
        .order_by(Item.created_at, Item.id, Decision.id)
    )
    return list(session.connection().execute(query).all())


def _reviews_by_item(
    session: Session, chosen: Sequence[ColumnElement[bool]]
) -> dict[int, list[_ReviewRow]]:
    """Every review of each chosen item, oldest first (only the columns a record needs)."""
    query = (
        select(
            Review.item_id,
            Review.reviewer_id,
            type_coerce(Review.action, String()),
            Review.final_label,
            Review.seconds,
            Review.blind,
        )
        .join(Item, Item.id == Review.item_id)
        .where(*chosen)
        .order_by(Review.id)
    )
    grouped: dict[int, list[_ReviewRow]] = defaultdict(list)
    for row in session.connection().execute(query).all():  # one fetch, not one a row
        grouped[row[0]].append(row)
    return dict(grouped)


def _outcome(reviews: Sequence[_ReviewRow]) -> _ReviewRow | None:
    """The review that settled the item: the latest with a final label, else the latest one."""
    for review in reversed(reviews):
        if review[_FINAL_LABEL] is not None:
            return review
    return reviews[-1] if reviews else None


def _record(row: _DecidedRow, reviews: Sequence[_ReviewRow], fallback: Arm) -> ItemRecord:
    _, created_at, arm, completed_at, agent_label, confidence, route = row
    outcome = _outcome(reviews)
    action: ReviewAction | None = None
    reviewer_id: str | None = None
    final_label: str | None = None
    shown: bool | None = None
    if outcome is not None:
        _, reviewer, stored_action, final_label, _, blind = outcome
        action, reviewer_id, shown = _ACTIONS[stored_action], str(reviewer), not blind
    return ItemRecord(
        created_at=created_at,
        arm=_ARMS.get(arm, fallback),
        route=_ROUTES[route],
        agent_label=agent_label,
        final_label=final_label,
        review_action=action,
        handling_seconds=_handling_seconds(reviews),
        reviewer_id=reviewer_id,
        completed_at=completed_at,
        confidence=min(max(confidence, 0.0), 1.0),
        suggestion_shown=shown,
    )


def _handling_seconds(reviews: Sequence[_ReviewRow]) -> float:
    """Every review's seconds on the item (escalations too), none counted below 0."""
    total = 0.0  # the same left-to-right sum as `sum`, without a generator per item
    for review in reviews:
        total += max(review[4] or 0.0, 0.0)
    return total


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
