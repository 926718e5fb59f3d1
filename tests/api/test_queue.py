"""The review queue: leases are exclusive, expire, and only their holder may answer; blind items
carry no suggestion; escalations wait for an owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_world import World, certify
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.engine.training import DeciderFactory
from deshi.learning.registry import AgentRegistry
from deshi.web.config import ApiConfig
from fakes import CentroidDecider

BLIND_HIDDEN = ("label", "confidence", "alternatives", "evidence")


def _seed(client: TestClient, world: World, n: int) -> list[int]:
    body = {"items": [{"text": f"where is my card {i}"} for i in range(n)]}
    r = client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 201, r.text
    return [i["id"] for i in r.json()["items"]]


@pytest.fixture
def make_decider() -> DeciderFactory:
    """Agents fit the fake decider: twenty reviews certify them (see `certify`)."""
    return CentroidDecider


def _certified_item(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    registry: AgentRegistry,
    policy: dict[str, Any],
) -> int:
    """Certify the own process's agent, set `policy`, send a text it knows; the item's id."""
    [(text, _), *_] = certify(client, world, factory=factory, registry=registry)
    url, owner = f"/processes/{world.own_process}", world.auth("owner")
    client.patch(url, json=policy, headers=owner).raise_for_status()
    r = client.post(f"{url}/items", json={"text": text}, headers=owner)
    assert r.status_code == 201 and r.json()["status"] == "queued", r.text
    return int(r.json()["id"])


def _claim(client: TestClient, world: World, who: str, *, resume: bool = True) -> Any:
    url = f"/processes/{world.own_process}/queue/claim?resume={str(resume).lower()}"
    return client.post(url, headers=world.auth(who))


def test_two_reviewers_never_hold_the_same_item(client: TestClient, world: World) -> None:
    ids = _seed(client, world, 6)
    who = ["reviewer", "reviewer2", "owner"] * 4

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda w: _claim(client, world, w, resume=False), who))
    claimed = [r.json()["id"] for r in responses if r.status_code == 200]
    assert sorted(claimed) == ids  # each item leased exactly once
    assert sum(r.status_code == 204 for r in responses) == len(who) - len(ids)


def test_a_claim_gives_back_the_item_you_still_hold(client: TestClient, world: World) -> None:
    first, second, _ = _seed(client, world, 3)
    assert _claim(client, world, "reviewer").json()["id"] == first
    assert _claim(client, world, "reviewer").json()["id"] == first  # a reload, not a new lease
    assert _claim(client, world, "reviewer2").json()["id"] == second  # others never get it
    assert _claim(client, world, "reviewer", resume=False).json()["id"] == 3


def test_the_queue_count_leaves_out_held_items(client: TestClient, world: World) -> None:
    _seed(client, world, 3)
    url = f"/processes/{world.own_process}/queue/count"
    assert client.get(url, headers=world.auth("reviewer")).json() == {"waiting": 3}
    _claim(client, world, "reviewer")
    assert client.get(url, headers=world.auth("reviewer2")).json() == {"waiting": 2}
    assert client.get(url, headers=world.auth("auditor")).status_code == 403


def test_claim_on_an_empty_queue_is_204(client: TestClient, world: World) -> None:
    assert _claim(client, world, "reviewer").status_code == 204


class TestExpiredLeases:
    @pytest.fixture
    def app_config(self) -> ApiConfig:
        return ApiConfig(lease_seconds=0)  # every lease is already over when granted

    def test_an_expired_lease_is_claimable_again_and_not_answerable(
        self, client: TestClient, world: World
    ) -> None:
        [item_id] = _seed(client, world, 1)
        assert _claim(client, world, "reviewer").json()["id"] == item_id
        assert _claim(client, world, "reviewer2").json()["id"] == item_id
        r = client.post(
            f"/items/{item_id}/review",
            json={"action": "correct", "label": "card_arrival"},
            headers=world.auth("reviewer"),
        )
        assert r.status_code == 409


def test_only_the_lease_holder_may_answer_or_release(client: TestClient, world: World) -> None:
    [item_id] = _seed(client, world, 1)
    _claim(client, world, "reviewer")
    answer = {"action": "correct", "label": "card_arrival"}
    for path, body in ((f"/items/{item_id}/review", answer), (f"/items/{item_id}/release", None)):
        r = client.post(path, json=body, headers=world.auth("reviewer2"))
        assert r.status_code == 409 and r.json()["code"] == "conflict"
    r = client.post(f"/items/{item_id}/review", json=answer, headers=world.auth("reviewer"))
    assert r.status_code == 200
    again = client.post(f"/items/{item_id}/review", json=answer, headers=world.auth("reviewer"))
    assert again.status_code == 409  # done: the lease is gone


def test_release_puts_the_item_back(client: TestClient, world: World) -> None:
    [item_id] = _seed(client, world, 1)
    _claim(client, world, "reviewer")
    r = client.post(f"/items/{item_id}/release", headers=world.auth("reviewer"))
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert _claim(client, world, "reviewer2").json()["id"] == item_id


def test_audit_items_are_served_blind(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    audits = {"mode": "autopilot", "audit_rate": 1.0}
    item_id = _certified_item(client, world, session_factory, registry, audits)
    claimed = _claim(client, world, "reviewer").json()
    assert claimed["blind"] is True and claimed["suggestion"] is None
    assert not any(key in claimed for key in BLIND_HIDDEN)
    # nor can the reviewer peek at the decision while the item is open
    assert (
        client.get(f"/items/{item_id}", headers=world.auth("reviewer")).json()["decision"] is None
    )
    assert client.get(f"/items/{item_id}", headers=world.auth("auditor")).json()["decision"]
    # a blind answer must name a label; matching the agent's label counts as accept
    bare = client.post(
        f"/items/{item_id}/review", json={"action": "accept"}, headers=world.auth("reviewer")
    )
    assert bare.status_code == 422 and bare.json()["field"] == "label"
    done = client.post(
        f"/items/{item_id}/review",
        json={"action": "correct", "label": "card_arrival"},
        headers=world.auth("reviewer"),
    ).json()
    assert done["reviews"][0]["blind"] is True and done["reviews"][0]["action"] == "accept"
    assert done["decision"]["label"] == "card_arrival"  # completed: lineage is open again


def test_review_items_show_the_suggestion_in_assist_mode(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    review = {"mode": "assist", "sensitive_labels": ["card_arrival"]}
    item_id = _certified_item(client, world, session_factory, registry, review)
    claimed = _claim(client, world, "reviewer").json()
    assert claimed["blind"] is False
    assert claimed["suggestion"]["label"] == "card_arrival"
    r = client.post(
        f"/items/{item_id}/review", json={"action": "accept"}, headers=world.auth("reviewer")
    )
    assert r.status_code == 200
    assert r.json()["reviews"][0]["final_label"] == "card_arrival"


def test_human_only_arm_is_served_blind(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    review = {"mode": "assist", "sensitive_labels": ["card_arrival"], "arms": {"human_only": 1.0}}
    item_id = _certified_item(client, world, session_factory, registry, review)
    claimed = _claim(client, world, "reviewer").json()
    assert claimed["id"] == item_id
    assert claimed["blind"] is True and claimed["suggestion"] is None


def test_escalated_items_wait_for_an_owner(client: TestClient, world: World) -> None:
    [item_id] = _seed(client, world, 1)
    _claim(client, world, "reviewer")
    r = client.post(
        f"/items/{item_id}/review", json={"action": "escalate"}, headers=world.auth("reviewer")
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["escalated"]) == ("queued", True)
    assert _claim(client, world, "reviewer2").status_code == 204
    assert _claim(client, world, "owner").json()["escalated"] is True


def test_correct_requires_a_label(client: TestClient, world: World) -> None:
    [item_id] = _seed(client, world, 1)
    _claim(client, world, "reviewer")
    r = client.post(
        f"/items/{item_id}/review", json={"action": "correct"}, headers=world.auth("reviewer")
    )
    assert r.status_code == 422 and r.json()["field"] == "label"
