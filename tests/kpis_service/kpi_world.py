"""A KPI test world: a process with four ISO weeks of decided and reviewed items in three arms.

`history()` is the single source of truth: the fixture stores it through the DB models and the
tests rebuild the expected `ItemRecord`s from it, so the SQL mapping is checked independently.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user, grant_role
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item, Process, Review
from deshi.domain import ItemStatus, Role
from deshi.domain import ReviewAction as StoredAction
from deshi.kpis.records import Arm, ItemRecord, ReviewAction, RouteName, iso_week

LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed"]
WEEKS = 4
HUMAN_ONLY: tuple[Arm, RouteName] = ("human_only", "review")
ASSISTED: tuple[Arm, RouteName] = ("assisted", "review")
AUTO: tuple[Arm, RouteName] = ("ai_led", "auto")
AUDIT: tuple[Arm, RouteName] = ("ai_led", "audit")
PLAN = [HUMAN_ONLY] * 12 + [ASSISTED] * 12 + [AUTO] * 10 + [AUDIT] * 4  # one week's items


@dataclass(frozen=True, slots=True)
class Spec:
    """One item as stored: its decision and (optionally) its reviews."""

    created_at: datetime
    arm: Arm
    route: RouteName
    agent_label: str
    confidence: float
    final_label: str | None = None
    action: ReviewAction | None = None
    seconds: float = 0.0
    reviewer: str | None = None  # "reviewer" | "reviewer2"
    blind: bool = False
    escalated_first: bool = False  # an escalation of 20 s precedes the final review
    completed_at: datetime | None = None

    @property
    def week(self) -> str:
        """ISO week of creation."""
        return iso_week(self.created_at)


@dataclass
class KpiWorld:
    """Ids and tokens of the test world."""

    process: int = 0
    orphan_process: int = 0
    other_process: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    specs: list[Spec] = field(default_factory=list)

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a user."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def weeks(self) -> list[str]:
        """The ISO weeks with items, in order."""
        return sorted({spec.week for spec in self.specs})

    def records(self) -> list[ItemRecord]:
        """The ItemRecords the KPI service should build from the stored rows."""
        return [record_of(spec, self.user_ids) for spec in self.specs]


def first_monday(today: date | None = None) -> datetime:
    """Monday 00:00 UTC of the first of the `WEEKS` complete ISO weeks before this one."""
    today = today or datetime.now(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    return datetime.combine(this_monday - timedelta(weeks=WEEKS), datetime.min.time(), tzinfo=UTC)


def _human(rng: random.Random, at: datetime, arm: Arm, route: RouteName, week: int) -> Spec:
    truth = rng.choice(LABELS)
    right = rng.random() < 0.6 + 0.08 * week  # the agent learns week by week
    agent = truth if right else rng.choice([label for label in LABELS if label != truth])
    blind = arm == "human_only" or route == "audit"
    accepted = agent == truth
    base = 240.0 if blind else (80.0 if accepted else 150.0)
    return Spec(
        created_at=at,
        arm=arm,
        route=route,
        agent_label=agent,
        confidence=round(rng.uniform(0.5, 0.99), 3),
        final_label=truth,
        action="accept" if accepted else "correct",
        seconds=round(base + rng.uniform(-30, 30), 1),
        reviewer=rng.choice(["reviewer", "reviewer2"]),
        blind=blind,
        escalated_first=rng.random() < 0.05,
        completed_at=at + timedelta(hours=rng.uniform(0.5, 20)),
    )


def _auto(rng: random.Random, at: datetime) -> Spec:
    label = rng.choice(LABELS)
    return Spec(
        created_at=at,
        arm="ai_led",
        route="auto",
        agent_label=label,
        confidence=round(rng.uniform(0.95, 1.0), 3),
        completed_at=at,
    )


def history(start: datetime, *, seed: int = 7) -> list[Spec]:
    """Per week: 12 human-only, 12 assisted, 14 AI-led items (10 auto, 4 audited), plus one
    assisted item still waiting in the queue."""
    rng = random.Random(seed)
    specs: list[Spec] = []
    for week in range(WEEKS):
        monday = start + timedelta(weeks=week)
        moments = sorted(monday + timedelta(hours=rng.uniform(0, 24 * 5)) for _ in range(39))
        plan = list(PLAN)
        rng.shuffle(plan)
        for at, (arm, route) in zip(moments, plan, strict=False):
            specs.append(_auto(rng, at) if route == "auto" else _human(rng, at, arm, route, week))
        waiting = moments[-1] + timedelta(minutes=5)
        specs.append(Spec(waiting, "assisted", "review", LABELS[0], 0.7))
    return specs


def record_of(spec: Spec, user_ids: dict[str, int]) -> ItemRecord:
    """The expected ItemRecord of a spec (escalations add their 20 seconds)."""
    reviewed = spec.action is not None
    return ItemRecord(
        created_at=spec.created_at,
        arm=spec.arm,
        route=spec.route,
        agent_label=spec.agent_label,
        final_label=spec.final_label,
        review_action=spec.action,
        handling_seconds=spec.seconds + (20.0 if spec.escalated_first else 0.0),
        reviewer_id=str(user_ids[spec.reviewer]) if reviewed and spec.reviewer else None,
        completed_at=spec.completed_at,
        confidence=spec.confidence,
        suggestion_shown=(not spec.blind) if reviewed else None,
    )


def answer_waiting_item(
    factory: sessionmaker[Session], world: KpiWorld, *, label: str = LABELS[1]
) -> int:
    """Review the newest queued item (a change under the KPIs); its id."""
    with transaction(factory) as session:
        query = select(Item).where(
            Item.process_id == world.process, Item.status == ItemStatus.QUEUED
        )
        item = session.scalars(query.order_by(Item.id.desc()).limit(1)).one()
        now = utcnow()
        session.add(
            Review(
                item_id=item.id,
                reviewer_id=world.user_ids["reviewer"],
                action=StoredAction.CORRECT,
                final_label=label,
                seconds=42.0,
                blind=False,
                created_at=now,
            )
        )
        item.status, item.completed_at = ItemStatus.COMPLETED, now
        return item.id


VIEWER_PASSWORD = "a-long-enough-password-1"


def sign_in_owner(client: TestClient, factory: sessionmaker[Session], world: KpiWorld) -> None:
    """A new owner of the world's process, signed in to `client` through the login form."""
    with transaction(factory) as session:
        process = session.get(Process, world.process)
        assert process is not None
        user = create_user(
            session,
            actor="test",
            email="viewer@example.com",
            display_name="Viewer",
            password=VIEWER_PASSWORD,
        )
        grant_role(
            session,
            actor="test",
            user_id=user.id,
            role=Role.OWNER,
            department_id=process.department_id,
        )
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    form = {"email": "viewer@example.com", "password": VIEWER_PASSWORD, "csrf_token": token[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
