"""A decision's route reason is stored as a code and parameters, and old rows are upgraded."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import make_session_factory, transaction
from deshi.db.migrate import alembic_config, upgrade_to_head
from deshi.db.tables import Decision, Department, Item, Process
from deshi.engine import Route, RouteReason
from deshi.items.service import decision_public

PARAMS: dict[RouteReason, dict[str, str | float | None]] = {
    RouteReason.AUTO: {"confidence": 0.987654, "threshold": 0.9512345678901234},
    RouteReason.BELOW_THRESHOLD: {"confidence": 0.5, "threshold": None},
    RouteReason.RULE: {"rule": "契約解除"},
    RouteReason.SENSITIVE: {"label": "lost_or_stolen_card"},
}


def _item(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        department = Department(name="cards")
        session.add(department)
        session.flush()
        process = Process(department_id=department.id, name="inquiry routing", labels=["a"])
        session.add(process)
        session.flush()
        item = Item(process_id=process.id, text="where is my card")
        session.add(item)
        session.flush()
        return item.id


def test_every_code_and_its_parameters_survive_storage(
    session_factory: sessionmaker[Session],
) -> None:
    item_id = _item(session_factory)
    with transaction(session_factory) as session:
        for code in RouteReason:
            session.add(
                Decision(
                    item_id=item_id,
                    confidence=0.5,
                    route=Route.REVIEW,
                    reason_code=code,
                    reason_params=PARAMS.get(code, {}),
                )
            )
    with session_factory() as session:
        stored = session.scalars(select(Decision).order_by(Decision.id)).all()
    assert [d.reason_code for d in stored] == list(RouteReason)
    assert all(isinstance(d.reason_code, RouteReason) for d in stored)
    assert [d.reason_params for d in stored] == [PARAMS.get(code, {}) for code in RouteReason]


def _insert_old_decision(conn: Connection, item_id: int, code: str | None, reason: str) -> None:
    conn.execute(
        text(
            "INSERT INTO decisions (item_id, label, confidence, alternatives, evidence, route,"
            " reason, threshold, reason_code, created_at)"
            " VALUES (:item, 'card_arrival', 0.9234, '[]', '[]', 'review', :reason, 0.95,"
            " :code, CURRENT_TIMESTAMP)"
        ),
        {"item": item_id, "reason": reason, "code": code},
    )


def test_upgrading_gives_old_decisions_their_parameters(engine: Engine) -> None:
    item_id = _item(make_session_factory(engine))
    old = [
        ("below_threshold", "Confidence 92.3% is below the certified threshold 95.0%."),
        ("rule", "An always-human rule matched: large amount."),
        ("sensitive", "The proposed label is marked sensitive: always reviewed."),
        ("novel", "Unlike anything reviewed before (novel input)."),
        (None, "Worded by a version of deshi before reason codes."),
    ]
    with engine.begin() as conn:  # back to the schema of sentences, then forward
        command.downgrade(alembic_config(conn), "0006")
        for code, reason in old:
            _insert_old_decision(conn, item_id, code, reason)
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        stored = session.scalars(select(Decision).order_by(Decision.id)).all()
    assert [(d.reason_code, d.reason_params) for d in stored] == [
        (RouteReason.BELOW_THRESHOLD, {"confidence": 0.9234, "threshold": 0.95}),
        (RouteReason.RULE, {"rule": "large amount"}),
        (RouteReason.SENSITIVE, {"label": "card_arrival"}),
        (RouteReason.NOVEL, {}),
        (None, {}),
    ]
    shown = [decision_public(d, {}).reason for d in stored]
    assert shown == [reason for _, reason in old]  # same words, now rendered from the codes
