"""Every role, every endpoint, own/other department, from one table of expected statuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_world import World
from fastapi.testclient import TestClient

ROLES = ["workspace_admin", "admin", "owner", "reviewer", "auditor"]
MANAGERS = {"workspace_admin", "admin", "owner"}
REVIEWERS = MANAGERS | {"reviewer"}
EVERYONE = set(ROLES)

HOOK_URL = "http://127.0.0.1:9/hook"  # never called: no worker runs in these tests

Call = Callable[[TestClient, World, str, int], Any]


def _seed(client: TestClient, world: World, process_id: int, n: int = 1) -> list[int]:
    """Items queued in a process, submitted by the workspace admin."""
    body = {"items": [{"text": f"my card has not arrived {i}"} for i in range(n)]}
    r = client.post(
        f"/processes/{process_id}/items:batch", json=body, headers=world.auth("workspace_admin")
    )
    assert r.status_code == 201, r.text
    return [item["id"] for item in r.json()["items"]]


def _held_item(client: TestClient, world: World, who: str, process_id: int) -> int:
    """An item the caller holds a lease on when their role allows claiming, else just an item."""
    [seeded] = _seed(client, world, process_id)
    r = client.post(f"/processes/{process_id}/queue/claim", headers=world.auth(who))
    return int(r.json()["id"]) if r.status_code == 200 else seeded


def _webhook(client: TestClient, world: World, process_id: int) -> int:
    """A webhook registered on the process by the workspace admin."""
    r = client.post(
        f"/processes/{process_id}/webhooks",
        json={"url": HOOK_URL},
        headers=world.auth("workspace_admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _department(world: World, process_id: int) -> int:
    return world.own_department if process_id == world.own_process else world.other_department


# endpoint → (call, roles allowed in their own department, success status)
ENDPOINTS: dict[str, tuple[Call, set[str], int]] = {
    "list processes": (
        lambda c, w, who, p: c.get("/processes", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "create process": (
        lambda c, w, who, p: c.post(
            "/processes",
            json={"department_id": _department(w, p), "name": "new", "labels": ["x"]},
            headers=w.auth(who),
        ),
        MANAGERS,
        201,
    ),
    "read process": (
        lambda c, w, who, p: c.get(f"/processes/{p}", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "update policy": (
        lambda c, w, who, p: c.patch(
            f"/processes/{p}", json={"audit_rate": 0.1}, headers=w.auth(who)
        ),
        MANAGERS,
        200,
    ),
    "ingest item": (
        lambda c, w, who, p: c.post(
            f"/processes/{p}/items", json={"text": "card?"}, headers=w.auth(who)
        ),
        MANAGERS,
        201,
    ),
    "ingest batch": (
        lambda c, w, who, p: c.post(
            f"/processes/{p}/items:batch", json={"items": [{"text": "card?"}]}, headers=w.auth(who)
        ),
        MANAGERS,
        201,
    ),
    "read item": (
        lambda c, w, who, p: c.get(f"/items/{_seed(c, w, p)[0]}", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "claim": (
        lambda c, w, who, p: (
            _seed(c, w, p),
            c.post(f"/processes/{p}/queue/claim", headers=w.auth(who)),
        )[1],
        REVIEWERS,
        200,
    ),
    "review": (
        lambda c, w, who, p: c.post(
            f"/items/{_held_item(c, w, who, p)}/review",
            json={"action": "correct", "label": "card_arrival", "seconds": 3},
            headers=w.auth(who),
        ),
        REVIEWERS,
        200,
    ),
    "release": (
        lambda c, w, who, p: c.post(
            f"/items/{_held_item(c, w, who, p)}/release", headers=w.auth(who)
        ),
        REVIEWERS,
        200,
    ),
    "register webhook": (
        lambda c, w, who, p: c.post(
            f"/processes/{p}/webhooks", json={"url": HOOK_URL}, headers=w.auth(who)
        ),
        MANAGERS,
        201,
    ),
    "list webhooks": (
        lambda c, w, who, p: c.get(f"/processes/{p}/webhooks", headers=w.auth(who)),
        MANAGERS,
        200,
    ),
    "delete webhook": (
        lambda c, w, who, p: c.delete(
            f"/processes/{p}/webhooks/{_webhook(c, w, p)}", headers=w.auth(who)
        ),
        MANAGERS,
        204,
    ),
    # last: an archived process takes no more items
    "archive": (
        lambda c, w, who, p: c.post(f"/processes/{p}/archive", headers=w.auth(who)),
        MANAGERS,
        200,
    ),
}


def expected(endpoint: str, role: str, where: str) -> int:
    """The status the table promises: other departments are invisible (404) except to the
    workspace admin; in their own department a role either may (success) or may not (403)."""
    _, allowed, success = ENDPOINTS[endpoint]
    if endpoint == "list processes":
        return success
    if where == "other" and role != "workspace_admin":
        return 404
    return success if role in allowed else 403


@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(client: TestClient, world: World, role: str, where: str) -> None:
    process_id = world.own_process if where == "own" else world.other_process
    wrong = []
    for endpoint, (call, _, _) in ENDPOINTS.items():
        response = call(client, world, role, process_id)
        want = expected(endpoint, role, where)
        if response.status_code != want:
            wrong.append(f"{endpoint}: {response.status_code} != {want} ({response.text[:120]})")
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert not wrong, "\n".join(wrong)


def test_listing_shows_only_visible_departments(client: TestClient, world: World) -> None:
    def ids(who: str) -> set[int]:
        return {p["id"] for p in client.get("/processes", headers=world.auth(who)).json()}

    assert ids("reviewer") == ids("auditor") == ids("owner") == {world.own_process}
    assert ids("other_owner") == {world.other_process}
    assert ids("workspace_admin") == {world.own_process, world.other_process}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_anonymous_and_bad_tokens_get_401(client: TestClient, world: World, endpoint: str) -> None:
    call, _, _ = ENDPOINTS[endpoint]
    world.tokens["nobody"] = "dsh_not-a-real-token"
    response = call(client, world, "nobody", world.own_process)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["content-type"] == "application/problem+json"
