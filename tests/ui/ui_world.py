"""The UI test world: two departments; a BANKING77 process in each; in the own department a
trained model (reviewed history, then `retrain`) and a queue of fresh items with suggestions;
a reviewer, an auditor and an owner there and an owner in the other department."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role, load_principal
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.domain import Mode, Role
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, ingest_items
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.permissions import Principal
from deshi.processes.models import ProcessUpdate
from deshi.processes.service import (
    create_department,
    create_process,
    get_process_for,
    update_process,
)
from deshi.reviews.models import ReviewCreate
from deshi.reviews.service import claim_next, submit_review

PASSWORD = "a long enough password"
CATEGORIES = [
    "card_arrival",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "card_payment_fee_charged",
    "balance_not_updated_after_bank_transfer",
]
USERS = {  # name → (role, department "own" | "other")
    "reviewer": (Role.REVIEWER, "own"),
    "auditor": (Role.AUDITOR, "own"),
    "owner": (Role.OWNER, "own"),
    "other_owner": (Role.OWNER, "other"),
}


@dataclass
class UiWorld:
    """Ids of what the seed created."""

    process_id: int = 0
    other_process_id: int = 0
    other_item_id: int = 0
    user_ids: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def email(who: str) -> str:
        """The sign-in email of a seeded user."""
        return f"{who}@example.com"


def add_process(url: str, world: UiWorld, name: str) -> int:
    """A new process with labels a and b in the owner's department (beside the seeded one)."""
    engine = create_db_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            owner = load_principal(session, world.user_ids["owner"])
            department = get_process_for(session, owner, world.process_id).department_id
            return create_process(
                session, actor="test", department_id=department, name=name, labels=["a", "b"]
            ).id
    finally:
        engine.dispose()


def banking77(per_label: int, *, skip: int = 0) -> list[tuple[str, str]]:
    """`per_label` texts of each category, after skipping the first `skip` of each."""
    path = resources.files("deshi") / "data" / "banking77" / "train.csv"
    rows: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bucket = rows.get(row["category"])
            if bucket is not None and len(bucket) < skip + per_label:
                bucket.append(row["text"])
    return [(text, label) for label in CATEGORIES for text in rows[label][skip:]]


def _ingest(
    factory: sessionmaker[Session],
    registry: AgentRegistry,
    principal: Principal,
    process_id: int,
    rows: list[str],
    tag: str,
) -> list[int]:
    items = [ItemCreate(external_id=f"{tag}{i}", text=t) for i, t in enumerate(rows)]
    stored = ingest_items(
        factory,
        principal=principal,
        process_id=process_id,
        items=items,
        limits=IngestLimits(),
        batch=True,
        registry=registry,
    )
    return [item.id for item in stored]


def _review_all(
    factory: sessionmaker[Session],
    registry: AgentRegistry,
    principal: Principal,
    process_id: int,
    truth: dict[str, str],
) -> None:
    while True:
        with transaction(factory) as session:
            claimed = claim_next(session, principal=principal, process_id=process_id)
            if claimed is None:
                return
            assert claimed.external_id is not None
            answer = ReviewCreate(action="correct", label=truth[claimed.external_id], seconds=20)
            submit_review(
                session, principal=principal, item_id=claimed.id, answer=answer, registry=registry
            )


def seed(factory: sessionmaker[Session], *, password_hasher: PasswordHasher) -> UiWorld:
    """Build the world through the services (the same paths the API takes), with agents of its
    own: the app under test starts from the database, as another OS process would."""
    world = UiWorld()
    registry = AgentRegistry()
    with transaction(factory) as session:
        own = create_department(session, actor="test", name="Own")
        other = create_department(session, actor="test", name="Other")
        departments = {"own": own.id, "other": other.id}
        for name, (role, where) in USERS.items():
            user = create_user(
                session, actor="test", email=world.email(name), display_name=name,
                password=PASSWORD, password_hasher=password_hasher,
            )  # fmt: skip
            grant_role(session, actor="test", user_id=user.id, role=role,
                       department_id=departments[where])  # fmt: skip
            world.user_ids[name] = user.id
        for attr, department in (("process_id", own.id), ("other_process_id", other.id)):
            process = create_process(
                session, actor="test", department_id=department, name="Inquiry routing",
                labels=CATEGORIES,
            )  # fmt: skip
            setattr(world, attr, process.id)
    with transaction(factory) as session:
        owner = load_principal(session, world.user_ids["owner"])
        other_owner = load_principal(session, world.user_ids["other_owner"])
        reviewer = load_principal(session, world.user_ids["reviewer"])
        update_process(session, principal=owner, process_id=world.process_id,
                       changes=ProcessUpdate(mode=Mode.ASSIST))  # fmt: skip
    history = banking77(per_label=8)
    _ingest(factory, registry, owner, world.process_id, [t for t, _ in history], "h")
    _review_all(
        factory,
        registry,
        reviewer,
        world.process_id,
        {f"h{i}": label for i, (_, label) in enumerate(history)},
    )
    retrain(factory, process_id=world.process_id, registry=registry)
    fresh = banking77(per_label=3, skip=8)
    _ingest(factory, registry, owner, world.process_id, [t for t, _ in fresh], "f")
    [world.other_item_id] = _ingest(
        factory, registry, other_owner, world.other_process_id, ["Where is my card?"], "o"
    )
    return world
