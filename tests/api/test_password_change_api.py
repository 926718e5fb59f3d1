"""POST /me/password: anyone signed in changes their own password; a wrong current password is a
401 problem, a short or unchanged new one a 422 problem, and the operation is in OpenAPI."""

from __future__ import annotations

import base64

from api_world import PASSWORD, World
from fastapi.testclient import TestClient

NEW = "a password only the reviewer knows"


def _basic(email: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _change(client: TestClient, headers: dict[str, str], current: str, new: str) -> int:
    body = {"current_password": current, "new_password": new}
    return client.post("/me/password", json=body, headers=headers).status_code


def test_a_reviewer_changes_their_password_and_signs_in_with_the_new_one(
    client: TestClient, world: World
) -> None:
    assert _change(client, world.auth("reviewer"), PASSWORD, NEW) == 204
    assert (
        client.get("/departments", headers=_basic("reviewer@example.com", NEW)).status_code == 200
    )
    old = client.get("/departments", headers=_basic("reviewer@example.com", PASSWORD))
    assert old.status_code == 401
    token = client.get("/departments", headers=world.auth("reviewer"))
    assert token.status_code == 200  # API tokens are not sessions: they keep working


def test_a_wrong_current_password_is_a_401_problem(client: TestClient, world: World) -> None:
    body = {"current_password": "not my password at all", "new_password": NEW}
    answer = client.post("/me/password", json=body, headers=world.auth("reviewer"))
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (
        client.get("/departments", headers=_basic("reviewer@example.com", NEW)).status_code == 401
    )


def test_a_short_or_unchanged_new_password_is_a_422_problem(
    client: TestClient, world: World
) -> None:
    for new in ("too short", PASSWORD):
        body = {"current_password": PASSWORD, "new_password": new}
        answer = client.post("/me/password", json=body, headers=world.auth("reviewer"))
        assert answer.status_code == 422, new
        assert answer.json()["field"] == "new_password"


def test_without_credentials_it_is_a_401(client: TestClient) -> None:
    assert _change(client, {}, PASSWORD, NEW) == 401


def test_the_operation_is_documented_in_openapi(client: TestClient, world: World) -> None:
    document = client.get("/openapi.json", headers=world.auth("reviewer")).json()
    operation = document["paths"]["/me/password"]["post"]
    assert {"204", "401", "422"} <= set(operation["responses"])
    schema = document["components"]["schemas"]["PasswordChange"]
    assert set(schema["required"]) == {"current_password", "new_password"}
