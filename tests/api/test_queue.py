"""The review queue: leases are exclusive, expire, and only their holder may answer; blind items
carry no suggestion; escalations wait for an owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_world import World, fixed_decisions
from fastapi.testclient import TestClient

from deshi.items import service as items_service
from deshi.web.config import ApiConfig

BLIND_HIDDEN = ("label", "confidence", "alternatives", "evidence")


def _seed(client: TestClient, world: World, n: int) -> list[int]:
    body = {"items": [{"text": f"where is my card {i}"} for i in range(n)]}
    r = client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 201, r.text
    return [i["id"] for i in r.json()["items"]]


def _claim(client: TestClient, world: World, who: str) -> Any:
    return client.post(f"/processes/{world.own_process}/queue/claim", headers=world.auth(who))


def _mode(client: TestClient, world: World, mode: str) -> None:
    r = client.patch(
        f"/processes/{world.own_process}", json={"mode": mode}, headers=world.auth("owner")
    )
    assert r.status_code == 200


def test_two_reviewers_never_hold_the_same_item(client: TestClient, world: World) -> None:
    ids = _seed(client, world, 6)
    who = ["reviewer", "reviewer2", "owner"] * 4

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda w: _claim(client, world, w), who))
    claimed = [r.json()["id"] for r in responses if r.status_code == 200]
    assert sorted(claimed) == ids  # each item leased exactly once
    assert sum(r.status_code == 204 for r in responses) == len(who) - len(ids)


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
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode(client, world, "autopilot")
    monkeypatch.setattr(items_service, "decide_items", fixed_decisions("audit"))
    [item_id] = _seed(client, world, 1)
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
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode(client, world, "assist")
    monkeypatch.setattr(items_service, "decide_items", fixed_decisions("review"))
    [item_id] = _seed(client, world, 1)
    claimed = _claim(client, world, "reviewer").json()
    assert claimed["blind"] is False
    assert claimed["suggestion"]["label"] == "card_arrival"
    r = client.post(
        f"/items/{item_id}/review", json={"action": "accept"}, headers=world.auth("reviewer")
    )
    assert r.status_code == 200
    assert r.json()["reviews"][0]["final_label"] == "card_arrival"


def test_human_only_arm_is_served_blind(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.patch(
        f"/processes/{world.own_process}",
        json={"mode": "assist", "arms": {"human_only": 1.0}},
        headers=world.auth("owner"),
    )
    monkeypatch.setattr(items_service, "decide_items", fixed_decisions("review"))
    _seed(client, world, 1)
    claimed = _claim(client, world, "reviewer").json()
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
