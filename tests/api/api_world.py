"""The API test world's shape: who exists, with which role where, and their tokens."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastapi.testclient import TestClient

from deshi.auth.permissions import Role
from deshi.engine import Alternative, Case, Decision, Route

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


def engine_decision(route: str = "review", label: str | None = "card_arrival") -> Any:
    """A fixed engine decision, as a fake `decide_items` returns it."""
    return Decision(
        label=label,
        confidence=0.97 if label else 0.0,
        alternatives=(Alternative(label, 0.97),) if label else (),
        evidence=(Case("1", "where is my card", label, 0.8),) if label else (),
        route=Route(route),
        reason=f"fixed {route} decision for the test",
        model_version=0,
        threshold=0.9,
        reason_code=route,
    )


def fixed_decisions(route: str, label: str | None = "card_arrival") -> Callable[..., Any]:
    """A stand-in for `decide_items` that routes every item to `route`."""

    def decide(session: Any, *, process: Any, items: Sequence[Any]) -> list[Any]:
        return [engine_decision(route, label) for _ in items]

    return decide


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
