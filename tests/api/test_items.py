"""Ingest: idempotent on external_id (also under concurrent re-sends), all-or-nothing batches,
always-human rules, and the item's lineage (routing by mode and route: test_routing.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from api_world import World, banking77, review_everything
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import Decision, Item
from deshi.engine import RouteReason
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain


def _items(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Item)) or 0)


def test_resending_an_external_id_returns_the_stored_item_with_200(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url, body = f"/processes/{world.own_process}/items", {"external_id": "T-1", "text": "hello"}
    first = client.post(url, json=body, headers=world.auth("owner"))
    again = client.post(url, json={**body, "text": "changed"}, headers=world.auth("owner"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["text"] == "hello" and again.json()["created"] is False
    assert again.json()["decision"]["id"] == first.json()["decision"]["id"]
    assert _items(session_factory) == 1


def test_concurrent_resends_store_one_item(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}/items"

    def send(_: int) -> tuple[int, int]:
        r = client.post(url, json={"external_id": "same", "text": "x"}, headers=world.auth("owner"))
        return r.status_code, r.json().get("id", -1)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(12)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 11 + [201], results
    assert len({item_id for _, item_id in results}) == 1
    assert _items(session_factory) == 1


def test_batch_mixes_new_and_stored_items_in_request_order(
    client: TestClient, world: World
) -> None:
    url = f"/processes/{world.own_process}/items:batch"
    client.post(
        url, json={"items": [{"external_id": "b", "text": "b"}]}, headers=world.auth("owner")
    )
    body = {"items": [{"external_id": x, "text": x} for x in ("a", "b", "c")]}
    r = client.post(url, json=body, headers=world.auth("owner"))
    assert r.status_code == 201
    data = r.json()
    assert (data["created"], data["existing"]) == (2, 1)
    assert [i["external_id"] for i in data["items"]] == ["a", "b", "c"]
    assert [i["created"] for i in data["items"]] == [True, False, True]
    again = client.post(url, json=body, headers=world.auth("owner"))
    assert again.status_code == 200 and again.json()["created"] == 0


def test_a_bad_item_rejects_the_whole_batch(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    body = {"items": [{"text": "fine"}, {"text": "x" * 20_001}]}
    r = client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 422
    assert r.json()["field"] == "items[1].text"
    assert _items(session_factory) == 0


def test_more_than_1000_items_is_refused(client: TestClient, world: World) -> None:
    body = {"items": [{"text": "x"}] * 1001}
    r = client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 422
    assert r.json()["field"] == "items"


def test_always_human_rule_sends_an_otherwise_auto_item_to_review(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    """A real agent, trained through the API until it auto-completes, still hands a rule match
    to a human: the engine routes it (reason_code "rule"), nothing re-routes it afterwards."""
    owner, url = world.auth("owner"), f"/processes/{world.own_process}"
    policy = {"mode": "assist", "error_budget": 0.2, "confidence": 0.8, "audit_rate": 0.001}
    assert client.patch(url, json=policy, headers=owner).status_code == 200
    cards, rates = banking77(["card_arrival"], 45), banking77(["exchange_rate"], 45)
    held_out = cards[0][0]  # a card_arrival question the agent never learns from
    taught = [row for pair in zip(cards[1:], rates, strict=False) for row in pair]  # interleaved
    body = {"items": [{"external_id": f"t{i}", "text": t} for i, (t, _) in enumerate(taught)]}
    assert client.post(f"{url}/items:batch", json=body, headers=owner).status_code == 201
    truth = {f"t{i}": label for i, (_, label) in enumerate(taught)}
    assert review_everything(client, world, world.own_process, truth) == len(taught)
    retrain(session_factory, process_id=world.own_process, registry=registry)  # as the worker
    rules = [{"name": "large amount", "field": "amount", "op": ">", "value": 1000}]
    patch = {"mode": "autopilot", "always_human_rules": rules}
    assert client.patch(url, json=patch, headers=owner).status_code == 200

    same_text = [
        {"external_id": "plain", "text": held_out, "fields": {"amount": 10}},
        {"external_id": "flagged", "text": held_out, "fields": {"amount": 5000}},
    ]
    r = client.post(f"{url}/items:batch", json={"items": same_text}, headers=owner)
    plain, flagged = r.json()["items"]
    assert (plain["status"], plain["decision"]["route"]) == ("auto_completed", "auto")
    assert (flagged["status"], flagged["decision"]["route"]) == ("queued", "review")
    assert flagged["decision"]["label"] == plain["decision"]["label"] == "card_arrival"
    assert flagged["decision"]["reason"] == "An always-human rule matched: large amount."
    assert flagged["decision"]["reason_params"] == {"rule": "large amount"}
    codes = (plain["decision"]["reason_code"], flagged["decision"]["reason_code"])
    assert codes == ("auto", "rule")
    with session_factory() as session:
        row = session.scalars(select(Decision).where(Decision.item_id == flagged["id"])).one()
        assert row.reason_code is RouteReason.RULE
        assert row.reason_params == {"rule": "large amount"}


def test_item_lineage_shows_decision_and_reviews(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    r = client.post(
        f"/processes/{world.own_process}/items",
        json={"external_id": "L", "text": "where is my card", "fields": {"amount": 3}},
        headers=world.auth("owner"),
    )
    item_id = r.json()["id"]
    client.post(f"/processes/{world.own_process}/queue/claim", headers=world.auth("reviewer"))
    client.post(
        f"/items/{item_id}/review",
        json={"action": "correct", "label": "card_arrival", "seconds": 4.5},
        headers=world.auth("reviewer"),
    )
    lineage = client.get(f"/items/{item_id}", headers=world.auth("auditor")).json()
    decision = lineage["decision"]
    for key in ("model_version", "threshold", "label", "confidence", "alternatives", "evidence"):
        assert key in decision
    assert decision["route"] == "review" and decision["reason"]
    assert decision["reason_code"] == "cold_start"
    [review] = lineage["reviews"]
    assert review["final_label"] == "card_arrival"
    assert review["reviewer_id"] == world.user_ids["reviewer"]
    assert review["seconds"] == 4.5 and review["blind"] is True  # shadow mode: nothing shown
    assert lineage["fields"] == {"amount": 3} and lineage["status"] == "completed"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 1


def test_archived_process_takes_no_items(client: TestClient, world: World) -> None:
    client.post(f"/processes/{world.own_process}/archive", headers=world.auth("owner"))
    r = client.post(
        f"/processes/{world.own_process}/items", json={"text": "x"}, headers=world.auth("owner")
    )
    assert r.status_code == 409
    assert r.json()["code"] == "conflict"
