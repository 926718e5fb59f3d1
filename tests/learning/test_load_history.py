"""`repo.load_history` reads columns, not ORM objects: it must give the observations the ORM
reading gave (each decided item once, at its latest decision, in decision order)."""

from __future__ import annotations

from learning_desk import Desk, banking_rows
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db import transaction
from deshi.db.tables import Decision, Item, ModelVersion, Review
from deshi.domain import ItemOrigin, ItemStatus
from deshi.engine import Observation, Route, RouteReason
from deshi.learning import repo


def _orm_observations(session: Session, process_id: int, rate: float) -> list[Observation]:
    """The observations as `load_history` built them from ORM rows before it read columns."""
    labels = {
        item_id: str(label)
        for item_id, label in session.execute(
            select(Review.item_id, Review.final_label)
            .join(Item, Item.id == Review.item_id)
            .where(Item.process_id == process_id, Review.final_label.is_not(None))
            .order_by(Review.id)
        )
    }
    imported = session.scalars(
        select(Item)
        .where(Item.process_id == process_id, Item.origin == ItemOrigin.HISTORY.value)
        .where(Item.history_label.is_not(None))
        .order_by(Item.id)
    )
    observations = [
        Observation(
            case_id=str(item.id),
            text=item.text,
            route=Route.REVIEW,
            label=item.history_label,
            audit_rate=rate,
            entity=item.entity_key,
        )
        for item in imported
    ]
    latest: dict[int, tuple[Decision, int | None, Item]] = {}
    query = (
        select(Decision, ModelVersion.version, Item)
        .join(Item, Item.id == Decision.item_id)
        .outerjoin(ModelVersion, ModelVersion.id == Decision.model_version_id)
        .where(Item.process_id == process_id)
        .order_by(Decision.id)
    )
    for decision, version, item in session.execute(query):
        latest.pop(item.id, None)
        latest[item.id] = (decision, version, item)
    for decision, version, item in latest.values():
        label = labels.get(item.id)
        if label is None and item.status is not ItemStatus.AUTO_COMPLETED:
            continue
        observations.append(
            repo.observation_of(item, (decision, version), label=label, default_audit_rate=rate)
        )
    return observations


def _redecide(session: Session, item_id: int, **changes: object) -> None:
    """Store another decision for the item, a copy of its latest with `changes`."""
    last = session.scalars(
        select(Decision).where(Decision.item_id == item_id).order_by(Decision.id.desc())
    ).first()
    assert last is not None
    fields = {
        "item_id": item_id,
        "model_version_id": last.model_version_id,
        "label": last.label,
        "confidence": last.confidence,
        "route": last.route,
        "reason_code": last.reason_code,
        "audit_rate": last.audit_rate,
    }
    session.add(Decision(**{**fields, **changes}))
    session.flush()


def test_history_from_columns_equals_the_orm_reading(desk: Desk) -> None:
    rows = banking_rows()
    desk.teach(rows[:30])
    decided = [item_id for item_id, _ in desk.decide([text for text, _ in rows[30:40]])]
    auto, redecided, pending, auto_then_reviewed, suspended, unversioned, audited = decided[:7]
    with transaction(desk.factory) as session:
        for i, (text, label) in enumerate(rows[40:44]):
            session.add(
                Item(
                    process_id=desk.process_id,
                    external_id=f"h{i}",
                    text=text,
                    entity_key="acme" if i == 0 else None,
                    status=ItemStatus.COMPLETED,
                    origin=ItemOrigin.HISTORY.value,
                    history_label=label,
                )
            )
        session.add(  # imported without a label: not an observation
            Item(
                process_id=desk.process_id,
                external_id="h-unlabelled",
                text="no label",
                status=ItemStatus.COMPLETED,
                origin=ItemOrigin.HISTORY.value,
            )
        )
        _redecide(session, auto, route=Route.AUTO, reason_code=RouteReason.AUTO)
        session.get_one(Item, auto).status = ItemStatus.AUTO_COMPLETED
        _redecide(session, redecided, label="card_arrival", confidence=0.25)
        _redecide(session, auto_then_reviewed, route=Route.AUTO, reason_code=RouteReason.AUTO)
        _redecide(session, suspended, reason_code=RouteReason.SUSPENDED, audit_rate=None)
        _redecide(session, unversioned, model_version_id=None)
        _redecide(session, audited, route=Route.AUDIT, reason_code=RouteReason.AUDIT)
        session.get_one(Item, audited).entity_key = "acme"
    labels = dict(rows[30:40])
    texts = [text for text, _ in rows[30:40]]
    desk.review_many(
        [
            (item_id, labels[texts[decided.index(item_id)]])
            for item_id in (redecided, auto_then_reviewed, suspended, unversioned, audited)
        ]
    )
    # Re-decided after its review: the item moves to its latest decision.
    with transaction(desk.factory) as session:
        _redecide(session, unversioned, label="lost_or_stolen_card")

    with transaction(desk.factory) as session:
        history = repo.load_history(session, desk.process_id, default_audit_rate=0.07)
        expected = _orm_observations(session, desk.process_id, 0.07)

    assert history.observations == expected
    assert history.recorded_items == {int(o.case_id) for o in expected}
    seen = {int(o.case_id): o for o in history.observations}
    assert pending not in seen and len(seen) == len(history.observations)
    assert seen[auto].label is None and seen[auto].route is Route.AUTO
    assert seen[auto_then_reviewed].route is Route.REVIEW
    assert seen[redecided].predicted_label == "card_arrival"
    assert seen[redecided].confidence == 0.25
    assert seen[suspended].suspended and seen[suspended].audit_rate == 0.07
    assert seen[unversioned].model_version == 0
    assert seen[audited].route is Route.AUDIT and seen[audited].entity == "acme"
    assert seen[unversioned].predicted_label == "lost_or_stolen_card"
    assert history.observations[-1].case_id == str(unversioned)  # its latest decision is last
    assert [o.label for o in history.observations[:4]] == [label for _, label in rows[40:44]]
