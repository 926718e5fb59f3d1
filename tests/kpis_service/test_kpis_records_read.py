"""The KPI records read from the database (deshi.kpis.repo): one joined read of the items and
their decisions, and one of their reviews, give each decided item its latest decision, its
settling review and the seconds of all its reviews, oldest item first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Decision, Item, Process, Review
from deshi.domain import ItemStatus, Mode, ReviewAction
from deshi.engine.types import Route
from deshi.kpis.records import ItemRecord
from deshi.kpis.repo import load_item_records
from deshi.processes.service import create_department, create_process


def test_each_decided_item_reads_its_latest_decision_and_its_settling_review(
    session_factory: sessionmaker[Session],
) -> None:
    start = utcnow().replace(microsecond=0) - timedelta(days=3)
    with transaction(session_factory) as session:
        department = create_department(session, actor="test", name="Ops")
        process = create_process(
            session, actor="test", department_id=department.id, name="p", labels=["a", "b"]
        )
        process.mode = Mode.ASSIST
        reviewer = create_user(session, actor="test", email="r@example.com", display_name="R")
        items = [
            Item(
                process_id=process.id,
                text=f"item {index}",
                arm=arm,
                status=ItemStatus.COMPLETED if index < 2 else ItemStatus.QUEUED,
                created_at=start + timedelta(hours=hours),
                completed_at=start + timedelta(hours=hours + 1) if index < 2 else None,
            )
            for index, (arm, hours) in enumerate([("ai_led", 5), (None, 1), ("assisted", 3)])
        ]
        items.append(Item(process_id=process.id, text="undecided", created_at=start))
        session.add_all(items)
        session.flush()
        first, second, third, _ = items

        def decided(item: Item, label: str, route: Route, confidence: float) -> Decision:
            return Decision(
                item_id=item.id,
                label=label,
                confidence=confidence,
                route=route,
                created_at=item.created_at,
            )

        # decisions stored interleaved: the first item is decided again after the others
        session.add_all(
            [
                decided(first, "a", Route.REVIEW, 0.4),
                decided(second, "b", Route.AUDIT, 0.97),
                decided(third, "a", Route.REVIEW, 0.6),
            ]
        )
        session.flush()
        session.add(decided(first, "b", Route.AUTO, 1.0))
        session.flush()

        def reviewed(item: Item, action: ReviewAction, label: str | None, seconds: float) -> Review:
            return Review(
                item_id=item.id,
                reviewer_id=reviewer.id,
                action=action,
                final_label=label,
                seconds=seconds,
                blind=item is second,
                created_at=start + timedelta(hours=2),
            )

        session.add_all(
            [
                reviewed(second, ReviewAction.ESCALATE, None, 20.0),
                reviewed(second, ReviewAction.CORRECT, "a", 40.5),
            ]
        )
        session.flush()
        session.add(reviewed(third, ReviewAction.ESCALATE, None, 12.0))
        process_id, reviewer_id = process.id, reviewer.id
        second_done = second.completed_at
        first_done = first.completed_at

    with session_factory() as session:
        records = load_item_records(session, session.get_one(Process, process_id))

    assert records == [
        ItemRecord(  # no stored arm: the assist mode's; settled by the correction after the
            # escalation, whose seconds count too; audited blind
            created_at=start + timedelta(hours=1),
            arm="assisted",
            route="audit",
            agent_label="b",
            final_label="a",
            review_action="correct",
            handling_seconds=60.5,
            reviewer_id=str(reviewer_id),
            completed_at=second_done,
            confidence=0.97,
            suggestion_shown=False,
        ),
        ItemRecord(  # still queued: only an escalation, no final label
            created_at=start + timedelta(hours=3),
            arm="assisted",
            route="review",
            agent_label="a",
            final_label=None,
            review_action="escalate",
            handling_seconds=12.0,
            reviewer_id=str(reviewer_id),
            completed_at=None,
            confidence=0.6,
            suggestion_shown=True,
        ),
        ItemRecord(  # its latest decision, not its first
            created_at=start + timedelta(hours=5),
            arm="ai_led",
            route="auto",
            agent_label="b",
            completed_at=first_done,
            confidence=1.0,
        ),
    ]
