"""The process's mode and the agent's route decide an item's status.

The agents here fit `CentroidDecider` (tests/fakes.py), injected as the app's decider: twenty
reviewed items certify a threshold in a fraction of a second, and the policy then picks the
route of a known text: auto, audit (audit rate 1) or review (its label marked sensitive).
"""

from __future__ import annotations

from typing import Any

import pytest
from api_world import World, certify
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.engine.training import DeciderFactory
from deshi.learning.registry import AgentRegistry
from fakes import CentroidDecider

# the process's policy that makes the agent pick each route for a text it certifies
ROUTE_POLICY: dict[str, dict[str, Any]] = {
    "auto": {},
    "audit": {"audit_rate": 1.0},
    "review": {"sensitive_labels": ["card_arrival"]},
}


@pytest.fixture
def make_decider() -> DeciderFactory:
    return CentroidDecider


def _decide(
    client: TestClient, world: World, text: str, *, mode: str, route: str
) -> dict[str, Any]:
    """Set the mode and the route's policy, then send a known text; the item as returned."""
    url, owner = f"/processes/{world.own_process}", world.auth("owner")
    client.patch(url, json={"mode": mode, **ROUTE_POLICY[route]}, headers=owner).raise_for_status()
    r = client.post(f"{url}/items", json={"text": text}, headers=owner)
    assert r.status_code == 201, r.text
    item: dict[str, Any] = r.json()
    assert (item["decision"]["route"], item["decision"]["label"]) == (route, "card_arrival")
    return item


def test_shadow_mode_queues_everything_even_confident_items(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    [(text, _), *_] = certify(client, world, factory=session_factory, registry=registry)
    item = _decide(client, world, text, mode="shadow", route="auto")
    assert item["status"] == "queued"


@pytest.mark.parametrize(
    ("mode", "route", "status"),
    [
        ("autopilot", "auto", "auto_completed"),
        ("autopilot", "review", "queued"),
        ("autopilot", "audit", "queued"),
        ("assist", "auto", "queued"),
    ],
)
def test_mode_and_route_decide_the_status(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
    mode: str,
    route: str,
    status: str,
) -> None:
    [(text, _), *_] = certify(client, world, factory=session_factory, registry=registry)
    item = _decide(client, world, text, mode=mode, route=route)
    assert item["status"] == status
    assert (item["completed_at"] is not None) == (status == "auto_completed")
