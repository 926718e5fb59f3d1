"""Every role, every endpoint, own/other department, from one table of expected statuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_world import World
from fastapi.testclient import TestClient

from deshi.db import transaction
from deshi.domain import ModelStatus
from deshi.learning.repo import insert_version

ROLES = ["workspace_admin", "admin", "owner", "reviewer", "auditor"]
MANAGERS = {"workspace_admin", "admin", "owner"}
REVIEWERS = MANAGERS | {"reviewer"}
ADMINS = {"workspace_admin", "admin"}
EVERYONE = set(ROLES)

HOOK_URL = "https://93.184.215.14/hook"  # a public address, never called: no worker runs here

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


def _grant(client: TestClient, world: World, process_id: int) -> int:
    """An owner grant for reviewer2 in the process's department, made by the workspace admin."""
    r = client.post(
        f"/roles?department_id={_department(world, process_id)}",
        json={"email": "reviewer2@example.com", "role": "owner"},
        headers=world.auth("workspace_admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _two_versions(client: TestClient, process_id: int) -> int:
    """Store versions 1 (retired) and 2 (champion) of the process; the version to roll back to.
    Their artifacts are never loaded: rolling back only moves the champion."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        for version, status in ((1, ModelStatus.RETIRED), (2, ModelStatus.CHAMPION)):
            insert_version(
                session,
                process_id=process_id,
                version=version,
                status=status,
                artifact=b"unused",
                metrics={"accuracy": 0.9},
                threshold=0.8,
                trained_on=20,
            )
    return 1


def _emptied_department(client: TestClient, world: World, process_id: int) -> int:
    """The process's department once the workspace admin archived every process in it."""
    department = _department(world, process_id)
    admin = world.auth("workspace_admin")
    for process in client.get("/processes", headers=admin).json():
        if process["department_id"] == department:
            client.post(f"/processes/{process['id']}/archive", headers=admin)
    return department


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
    "list departments": (
        lambda c, w, who, p: c.get("/departments", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "rename department": (
        lambda c, w, who, p: c.patch(
            f"/departments/{_department(w, p)}", json={"name": f"by {who}"}, headers=w.auth(who)
        ),
        ADMINS,
        200,
    ),
    "list roles": (
        lambda c, w, who, p: c.get(
            f"/roles?department_id={_department(w, p)}", headers=w.auth(who)
        ),
        ADMINS,
        200,
    ),
    "grant role": (
        lambda c, w, who, p: c.post(
            f"/roles?department_id={_department(w, p)}",
            json={"email": "reviewer2@example.com", "role": "auditor"},
            headers=w.auth(who),
        ),
        ADMINS,
        201,
    ),
    "revoke role": (
        lambda c, w, who, p: c.delete(f"/roles/{_grant(c, w, p)}", headers=w.auth(who)),
        ADMINS,
        204,
    ),
    "list model versions": (
        lambda c, w, who, p: c.get(f"/processes/{p}/models", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "roll back model": (
        lambda c, w, who, p: c.post(
            f"/processes/{p}/models/{_two_versions(c, p)}/rollback", headers=w.auth(who)
        ),
        MANAGERS,
        200,
    ),
    "read go-live check": (
        lambda c, w, who, p: c.get(f"/processes/{p}/go-live", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    "request go-live check": (
        lambda c, w, who, p: c.post(f"/processes/{p}/go-live", headers=w.auth(who)),
        MANAGERS,
        202,
    ),
    # last: an archived process takes no more items
    "archive": (
        lambda c, w, who, p: c.post(f"/processes/{p}/archive", headers=w.auth(who)),
        MANAGERS,
        200,
    ),
    "archive department": (
        lambda c, w, who, p: c.post(
            f"/departments/{_emptied_department(c, w, p)}/archive", headers=w.auth(who)
        ),
        ADMINS,
        200,
    ),
}


def expected(endpoint: str, role: str, where: str) -> int:
    """The status the table promises: other departments are invisible (404) except to the
    workspace admin; in their own department a role either may (success) or may not (403)."""
    _, allowed, success = ENDPOINTS[endpoint]
    if endpoint in ("list processes", "list departments"):
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


# Workspace-level endpoints: no department to hide, so a role that may not gets 403 (never 404).
WS_ONLY = {"workspace_admin"}


def _user_id(world: World, who: str) -> int:
    return world.user_ids[who]


def _service_account(client: TestClient, world: World) -> int:
    r = client.post(
        "/users",
        json={"email": "bot@example.com", "service": True},
        headers=world.auth("workspace_admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _own_token(client: TestClient, world: World, who: str) -> int:
    r = client.post("/tokens", json={"name": "spare"}, headers=world.auth(who))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _others_token(client: TestClient, world: World) -> int:
    return _own_token(client, world, "reviewer2")


# endpoint → (call, roles allowed, success status)
WORKSPACE_ENDPOINTS: dict[str, tuple[Call, set[str], int]] = {
    "create department": (
        lambda c, w, who, p: c.post("/departments", json={"name": who}, headers=w.auth(who)),
        WS_ONLY,
        201,
    ),
    "create user": (
        lambda c, w, who, p: c.post(
            "/users", json={"email": f"new-{who}@example.com"}, headers=w.auth(who)
        ),
        WS_ONLY,
        201,
    ),
    "list users": (lambda c, w, who, p: c.get("/users", headers=w.auth(who)), WS_ONLY, 200),
    "update another user": (
        lambda c, w, who, p: c.patch(
            f"/users/{_user_id(w, 'reviewer2')}", json={"locale": "ja"}, headers=w.auth(who)
        ),
        WS_ONLY,
        200,
    ),
    "update yourself": (
        lambda c, w, who, p: c.patch(
            f"/users/{_user_id(w, who)}", json={"display_name": "Me"}, headers=w.auth(who)
        ),
        EVERYONE,
        200,
    ),
    "reset password": (
        lambda c, w, who, p: c.post(
            f"/users/{_user_id(w, 'reviewer2')}/reset-password", headers=w.auth(who)
        ),
        WS_ONLY,
        200,
    ),
    "grant workspace admin": (
        lambda c, w, who, p: c.post(
            "/roles", json={"email": "reviewer2@example.com", "role": "admin"}, headers=w.auth(who)
        ),
        WS_ONLY,
        201,
    ),
    "issue own token": (
        lambda c, w, who, p: c.post("/tokens", json={"name": "mine"}, headers=w.auth(who)),
        EVERYONE,
        201,
    ),
    "issue token for a service account": (
        lambda c, w, who, p: c.post(
            "/tokens",
            json={"name": "crm", "user_id": _service_account(c, w)},
            headers=w.auth(who),
        ),
        WS_ONLY,
        201,
    ),
    "list own tokens": (lambda c, w, who, p: c.get("/tokens", headers=w.auth(who)), EVERYONE, 200),
    "list every token": (
        lambda c, w, who, p: c.get("/tokens?everyone=true", headers=w.auth(who)),
        WS_ONLY,
        200,
    ),
    "revoke own token": (
        lambda c, w, who, p: c.post(f"/tokens/{_own_token(c, w, who)}/revoke", headers=w.auth(who)),
        EVERYONE,
        200,
    ),
    # last: deactivating someone else's account, then letting them in again
    "deactivate user": (
        lambda c, w, who, p: c.post(
            f"/users/{_user_id(w, 'reviewer2')}/deactivate", headers=w.auth(who)
        ),
        WS_ONLY,
        200,
    ),
    "reactivate user": (
        lambda c, w, who, p: c.post(
            f"/users/{_user_id(w, 'reviewer2')}/reactivate", headers=w.auth(who)
        ),
        WS_ONLY,
        200,
    ),
}


@pytest.mark.parametrize("role", ROLES)
def test_workspace_authorization_matrix(client: TestClient, world: World, role: str) -> None:
    wrong = []
    for endpoint, (call, allowed, success) in WORKSPACE_ENDPOINTS.items():
        response = call(client, world, role, world.own_process)
        want = success if role in allowed else 403
        if response.status_code != want:
            wrong.append(f"{endpoint}: {response.status_code} != {want} ({response.text[:120]})")
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_token_does_not_exist_for_a_non_workspace_admin(
    client: TestClient, world: World, role: str
) -> None:
    token_id = _others_token(client, world)
    response = client.post(f"/tokens/{token_id}/revoke", headers=world.auth(role))
    assert response.status_code == (200 if role == "workspace_admin" else 404), response.text


# These two name the caller's own objects, which an unknown token does not have.
_CALLER_OWNED = {"update yourself", "revoke own token"}


@pytest.mark.parametrize("endpoint", sorted(set(WORKSPACE_ENDPOINTS) - _CALLER_OWNED))
def test_workspace_endpoints_need_a_caller(client: TestClient, world: World, endpoint: str) -> None:
    call, _, _ = WORKSPACE_ENDPOINTS[endpoint]
    world.tokens["nobody"] = "dsh_not-a-real-token"
    response = call(client, world, "nobody", world.own_process)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"


def test_changing_yourself_needs_a_caller(client: TestClient, world: World) -> None:
    bad = {"Authorization": "Bearer dsh_not-a-real-token"}
    token_id = _own_token(client, world, "reviewer")
    assert client.patch("/users/1", json={"locale": "ja"}, headers=bad).status_code == 401
    assert client.post(f"/tokens/{token_id}/revoke", headers=bad).status_code == 401
