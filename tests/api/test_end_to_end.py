"""End to end through the API on BANKING77: ingest, review everything, and watch a correction
of a near-duplicate change the agent's next decision at once (before any retrain)."""

from __future__ import annotations

import pytest
from api_world import World, banking77, review_everything
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain

CATEGORIES = [
    "card_arrival",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "card_payment_fee_charged",
    "balance_not_updated_after_bank_transfer",
]


@pytest.mark.slow
def test_correcting_a_near_duplicate_changes_the_next_decision(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    owner = world.auth("owner")
    r = client.post(
        "/processes",
        json={"department_id": world.own_department, "name": "inquiries", "labels": CATEGORIES},
        headers=owner,
    )
    process_id = r.json()["id"]
    client.patch(f"/processes/{process_id}", json={"mode": "assist"}, headers=owner)
    data = banking77(CATEGORIES, per_label=10)
    assert len(data) == 60
    body = {"items": [{"external_id": f"b{i}", "text": t} for i, (t, _) in enumerate(data)]}
    r = client.post(f"/processes/{process_id}/items:batch", json=body, headers=owner)
    assert r.status_code == 201 and r.json()["created"] == 60
    truth = {f"b{i}": label for i, (_, label) in enumerate(data)}
    assert review_everything(client, world, process_id, truth) == 60

    retrain(session_factory, process_id=process_id, registry=registry)  # as the worker would

    question = "My new card still has not arrived, when will it come?"
    first = client.post(
        f"/processes/{process_id}/items",
        json={"external_id": "q1", "text": question},
        headers=owner,
    ).json()
    assert first["decision"]["label"] == "card_arrival"
    assert first["decision"]["evidence"] and first["decision"]["model_version"] >= 1

    # the reviewer says this kind of message is about a lost card
    claimed = client.post(
        f"/processes/{process_id}/queue/claim", headers=world.auth("reviewer")
    ).json()
    assert claimed["id"] == first["id"] and claimed["suggestion"]["label"] == "card_arrival"
    r = client.post(
        f"/items/{first['id']}/review",
        json={"action": "correct", "label": "lost_or_stolen_card"},
        headers=world.auth("reviewer"),
    )
    assert r.json()["reviews"][0]["action"] == "correct"

    again = client.post(
        f"/processes/{process_id}/items",
        json={"external_id": "q2", "text": question.replace("when", "so when")},
        headers=owner,
    ).json()
    assert again["decision"]["label"] == "lost_or_stolen_card"
    assert again["decision"]["evidence"][0]["label"] == "lost_or_stolen_card"
