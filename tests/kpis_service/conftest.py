"""The KPI test world on a real database: users per role, tokens, a process with history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from kpi_world import LABELS, KpiWorld, Spec, first_monday, history
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import transaction
from deshi.db.tables import Decision, Item, ModelVersion, Review
from deshi.domain import ItemStatus, ModelStatus, ReviewAction, Role
from deshi.engine.types import Route
from deshi.processes.service import create_department, create_process
from deshi.settings import Settings
from deshi.web import create_app

# name → (role, department "own" | "other")
USERS = {
    "owner": (Role.OWNER, "own"),
    "reviewer": (Role.REVIEWER, "own"),
    "reviewer2": (Role.REVIEWER, "own"),
    "auditor": (Role.AUDITOR, "own"),
    "auditor_en": (Role.AUDITOR, "own"),
    "auditor_ja": (Role.AUDITOR, "own"),
    "auditor_fr": (Role.AUDITOR, "own"),
    "other_owner": (Role.OWNER, "other"),
}
# The saved language of a user (User.locale); the others have none ("", create_user's
# default). A language the product does not speak counts as none.
USER_LOCALES = {"auditor_en": "en", "auditor_ja": "ja", "auditor_fr": "fr"}


def _store(session: Session, process_id: int, spec: Spec, user_ids: dict[str, int]) -> None:
    reviewed = spec.action is not None
    if spec.route == "auto":
        status = ItemStatus.AUTO_COMPLETED
    else:
        status = ItemStatus.COMPLETED if reviewed else ItemStatus.QUEUED
    item = Item(
        process_id=process_id,
        text="where is my card",
        arm=spec.arm,
        status=status,
        created_at=spec.created_at,
        completed_at=spec.completed_at,
    )
    session.add(item)
    session.flush()
    session.add(
        Decision(
            item_id=item.id,
            label=spec.agent_label,
            confidence=spec.confidence,
            route=Route(spec.route),
            created_at=spec.created_at,
        )
    )
    if spec.action is None or spec.completed_at is None or spec.reviewer is None:
        return
    reviewer = user_ids[spec.reviewer]
    if spec.escalated_first:
        session.add(
            Review(
                item_id=item.id,
                reviewer_id=reviewer,
                action=ReviewAction.ESCALATE,
                final_label=None,
                seconds=20.0,
                blind=spec.blind,
                created_at=spec.completed_at - timedelta(minutes=10),
            )
        )
    session.add(
        Review(
            item_id=item.id,
            reviewer_id=reviewer,
            action=ReviewAction(spec.action),
            final_label=spec.final_label,
            seconds=spec.seconds,
            blind=spec.blind,
            created_at=spec.completed_at,
        )
    )


def _promotions(session: Session, process_id: int) -> None:
    """One promoted model per week, getting better (held-out accuracy 70%, 75%, 80%, 85%)."""
    for index in range(4):
        week_start = first_monday() + timedelta(weeks=index)
        session.add(
            ModelVersion(
                process_id=process_id,
                version=index + 1,
                status=ModelStatus.CHAMPION if index == 3 else ModelStatus.RETIRED,
                artifact=b"",
                metrics={"holdout": 20, "challenger_correct": 14 + index},
                trained_on=40 * (index + 1),
                created_at=week_start,
                promoted_at=week_start + timedelta(days=3),
            )
        )


@pytest.fixture
def world(engine: Engine, session_factory: sessionmaker[Session]) -> KpiWorld:
    """Departments own/other, one user per role with a token, a process with four weeks of
    history (owned), an empty process without owner, and a process in the other department."""
    w = KpiWorld(specs=history(first_monday()))
    with transaction(session_factory) as session:
        own = create_department(session, actor="test", name="Own")
        other = create_department(session, actor="test", name="Other")
        departments = {"own": own.id, "other": other.id}
        for name, (role, where) in USERS.items():
            user = create_user(
                session,
                actor="test",
                email=f"{name}@example.com",
                display_name=name,
                locale=USER_LOCALES.get(name, ""),
            )
            grant_role(
                session, actor="test", user_id=user.id, role=role, department_id=departments[where]
            )
            w.tokens[name] = issue_api_token(
                session, actor="test", user_id=user.id, name="t"
            ).plaintext
            w.user_ids[name] = user.id
        process = create_process(
            session, actor="test", department_id=own.id, name="routing", labels=LABELS
        )
        process.owner_user_id = w.user_ids["owner"]
        process.hourly_rate, process.cost_per_escaped_error = 3000.0, 500.0
        process.created_at = w.specs[0].created_at - timedelta(days=1)
        w.process = process.id
        for spec in w.specs:
            _store(session, process.id, spec, w.user_ids)
        _promotions(session, process.id)
        w.orphan_process = create_process(
            session, actor="test", department_id=own.id, name="orphan", labels=LABELS
        ).id
        w.other_process = create_process(
            session, actor="test", department_id=other.id, name="routing", labels=LABELS
        ).id
    return w


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """A TestClient on the app serving the test database (migrated by `engine`)."""
    app = create_app(Settings(database_url=db_url))
    with TestClient(app) as test_client:
        yield test_client
