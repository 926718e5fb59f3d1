"""The API test world's shape: who exists, with which role where, and their tokens."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import AuditEvent
from deshi.domain import Role
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain

PASSWORD = "a long enough password"
LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed"]
# role name in the matrix → (role granted, department "own" | "other" | None = workspace)
USERS = {
    "workspace_admin": (Role.ADMIN, None),
    "admin": (Role.ADMIN, "own"),
    "owner": (Role.OWNER, "own"),
    "reviewer": (Role.REVIEWER, "own"),
    "reviewer2": (Role.REVIEWER, "own"),
    "auditor": (Role.AUDITOR, "own"),
    "other_owner": (Role.OWNER, "other"),
}


@dataclass
class World:
    """Ids and tokens of the test world."""

    own_department: int = 0
    other_department: int = 0
    own_process: int = 0
    other_process: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a user."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def patch_process(
        self, client: TestClient, body: dict[str, Any], who: str = "owner"
    ) -> httpx.Response:
        """`PATCH /processes/{id}` of the own department's process, as `who`."""
        return client.patch(f"/processes/{self.own_process}", json=body, headers=self.auth(who))


def process_updates(factory: sessionmaker[Session]) -> list[AuditEvent]:
    """The `process.update` audit events, oldest first."""
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "process.update")
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def banking77(categories: Sequence[str], per_label: int) -> list[tuple[str, str]]:
    """The first `per_label` BANKING77 (text, label) rows of each category, grouped by label."""
    path = resources.files("deshi") / "data" / "banking77" / "train.csv"
    rows: dict[str, list[str]] = {c: [] for c in categories}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bucket = rows.get(row["category"])
            if bucket is not None and len(bucket) < per_label:
                bucket.append(row["text"])
    return [(text, label) for label in categories for text in rows[label]]


def review_everything(
    client: TestClient, world: World, process_id: int, truth: dict[str, str]
) -> int:
    """Claim and review (with the true label) every queued item; the number reviewed."""
    reviewed = 0
    while True:
        r = client.post(f"/processes/{process_id}/queue/claim", headers=world.auth("reviewer"))
        if r.status_code == 204:
            return reviewed
        claimed = r.json()
        answer = {"action": "correct", "label": truth[claimed["external_id"]], "seconds": 5}
        done = client.post(
            f"/items/{claimed['id']}/review", json=answer, headers=world.auth("reviewer")
        )
        assert done.status_code == 200, done.text
        reviewed += 1


# A policy loose enough for twenty reviewed items to certify a threshold; audits are rare, so a
# certified item is auto-completed unless the test raises the audit rate.
LOOSE_POLICY = {"error_budget": 0.2, "confidence": 0.8, "audit_rate": 0.001}


def certify(
    client: TestClient,
    world: World,
    *,
    factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> list[tuple[str, str]]:
    """Teach the own process ten reviewed questions of each of two labels under LOOSE_POLICY and
    retrain it, so its agent certifies a threshold; returns the taught (text, label) pairs.

    Sent again, a taught text is then routed by the policy: auto, audit (audit rate 1), or
    review with its label suggested (the label marked sensitive).
    """
    owner, url = world.auth("owner"), f"/processes/{world.own_process}"
    client.patch(url, json=LOOSE_POLICY, headers=owner).raise_for_status()
    cards, rates = banking77(["card_arrival"], 10), banking77(["exchange_rate"], 10)
    taught = [row for pair in zip(cards, rates, strict=True) for row in pair]
    body = {"items": [{"external_id": f"taught-{i}", "text": t} for i, (t, _) in enumerate(taught)]}
    client.post(f"{url}/items:batch", json=body, headers=owner).raise_for_status()
    truth = {f"taught-{i}": label for i, (_, label) in enumerate(taught)}
    review_everything(client, world, world.own_process, truth)
    report = retrain(factory, process_id=world.own_process, registry=registry)
    assert report is not None and report.threshold is not None, report
    return taught
