"""A small stand-in for the items API: store items, decide them, review them, learn."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import Decision as DecisionRow
from deshi.db.tables import Item, Process, Review, User
from deshi.domain import ItemStatus, ReviewAction
from deshi.engine import Decision
from deshi.items.repo import insert_item
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import decide_items, decision_rows, learn_from_review
from deshi.processes.service import create_department, create_process

BANKING77 = Path(__file__).parents[2] / "src/deshi/data/banking77/train.csv"


def banking_rows(labels: int = 6, per_label: int = 30, seed: int = 7) -> list[tuple[str, str]]:
    """Up to labels x per_label BANKING77 (text, label) rows, shuffled."""
    with BANKING77.open(encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    chosen = sorted({label for _, label in rows})[:labels]
    picked = [[r for r in rows if r[1] == label][:per_label] for label in chosen]
    flat = [r for group in picked for r in group]
    random.Random(seed).shuffle(flat)
    return flat


@dataclass
class Desk:
    """Does what the API does with items, through the learning service."""

    factory: sessionmaker[Session]
    process_id: int
    reviewer_id: int
    registry: AgentRegistry = field(default_factory=AgentRegistry)
    counter: int = 0

    def decide(self, texts: Sequence[str]) -> list[tuple[int, Decision]]:
        """Store and decide items; returns (item id, decision) pairs."""
        with transaction(self.factory) as session:
            process = session.get_one(Process, self.process_id)
            items = []
            for text in texts:
                self.counter += 1
                items.append(
                    insert_item(
                        session, process_id=process.id, text=text, external_id=f"x{self.counter}"
                    )
                )
            decisions = decide_items(session, process=process, items=items, registry=self.registry)
            session.add_all(
                decision_rows(session, process=process, items=items, decisions=decisions)
            )
            for item in items:
                item.status = ItemStatus.DECIDED
            return [(item.id, d) for item, d in zip(items, decisions, strict=True)]

    def review(self, item_id: int, label: str) -> None:
        """A reviewer gives the final label; the agent learns from it."""
        self.review_many([(item_id, label)])

    def review_many(self, answers: Sequence[tuple[int, str]]) -> None:
        """Reviews saved in one transaction, each learned from as it is saved."""
        with transaction(self.factory) as session:
            process = session.get_one(Process, self.process_id)
            for item_id, label in answers:
                self._review(session, process, item_id, label)

    def _review(self, session: Session, process: Process, item_id: int, label: str) -> None:
        item = session.get_one(Item, item_id)
        decision = session.scalars(
            select(DecisionRow)
            .where(DecisionRow.item_id == item_id)
            .order_by(DecisionRow.id.desc())
        ).first()
        assert decision is not None
        action = ReviewAction.ACCEPT if decision.label == label else ReviewAction.CORRECT
        review = Review(
            item_id=item_id, reviewer_id=self.reviewer_id, action=action, final_label=label
        )
        session.add(review)
        session.flush()
        item.status = ItemStatus.COMPLETED
        learn_from_review(
            session,
            process=process,
            item=item,
            decision=decision,
            review=review,
            registry=self.registry,
        )

    def teach(self, rows: Sequence[tuple[str, str]], batch: int = 50) -> None:
        """Decide then review every row with its true label."""
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            decided = self.decide([text for text, _ in chunk])
            answers = [
                (item_id, label) for (item_id, _), (_, label) in zip(decided, chunk, strict=True)
            ]
            self.review_many(answers)

    def other_process(self) -> Desk:
        """The same desk as seen from another OS process: its own registry."""
        return Desk(self.factory, self.process_id, self.reviewer_id, AgentRegistry(), 10**6)


def make_desk(session_factory: sessionmaker[Session]) -> Desk:
    """A process with BANKING77 labels and a reviewer, committed."""
    with transaction(session_factory) as session:
        department = create_department(session, actor="user:1", name="Support")
        labels = sorted({label for _, label in banking_rows()})
        process = create_process(
            session, actor="user:1", department_id=department.id, name="routing", labels=labels
        )
        reviewer = User(email="r@example.com", display_name="Reviewer")
        session.add(reviewer)
        session.flush()
        return Desk(session_factory, process.id, reviewer.id)
