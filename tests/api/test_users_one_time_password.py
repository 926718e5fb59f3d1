"""GET /users tells a workspace admin who still holds a one-time password: true for a new person
and after a reset, false once they changed it, false for a service account (issue #22)."""

from __future__ import annotations

from api_world import World
from fastapi.testclient import TestClient

MINE = "a password only Hana knows"


def _listed(client: TestClient, world: World, email: str) -> bool:
    users = client.get("/users", headers=world.auth("workspace_admin"))
    assert users.status_code == 200, users.text
    [user] = [u for u in users.json() if u["email"] == email]
    flag: bool = user["must_change_password"]
    return flag


def test_the_user_list_shows_who_must_still_change_a_one_time_password(
    client: TestClient, world: World
) -> None:
    admin = world.auth("workspace_admin")
    created = client.post("/users", json={"email": "hana@example.com"}, headers=admin).json()
    assert created["must_change_password"] is True
    assert _listed(client, world, "hana@example.com") is True

    changed = client.post(
        "/me/password",
        json={"current_password": created["password"], "new_password": MINE},
        auth=("hana@example.com", created["password"]),
    )
    assert changed.status_code == 204, changed.text
    assert _listed(client, world, "hana@example.com") is False

    client.post(f"/users/{created['id']}/reset-password", headers=admin).raise_for_status()
    assert _listed(client, world, "hana@example.com") is True


def test_a_service_account_never_must_change_a_password(client: TestClient, world: World) -> None:
    admin = world.auth("workspace_admin")
    bot = client.post("/users", json={"email": "crm@example.com", "service": True}, headers=admin)
    assert bot.json()["must_change_password"] is False
    assert _listed(client, world, "crm@example.com") is False


def test_the_field_is_in_the_openapi_schema(client: TestClient, world: World) -> None:
    document = client.get("/openapi.json", headers=world.auth("workspace_admin")).json()
    field = document["components"]["schemas"]["UserPublic"]["properties"]["must_change_password"]
    assert field["type"] == "boolean" and "one-time password" in field["description"]
