"""POST /me/password: anyone signed in changes their own password; a wrong current password is a
401 problem, throttled like sign-in (429 with Retry-After), a short or unchanged new one a 422
problem, and the operation is in OpenAPI."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from api_world import PASSWORD, World
from fastapi.testclient import TestClient

from deshi.db.base import utcnow
from deshi.settings import Settings

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


def _stand_still(client: TestClient) -> datetime:
    """Stop the app's clock, so the throttle's delays do not run out mid-test."""
    now = utcnow()
    app: Any = client.app
    app.state.clock = lambda: now
    return now


def test_wrong_current_passwords_are_throttled_with_429_and_retry_after(
    client: TestClient, world: World
) -> None:
    now = _stand_still(client)
    free = Settings().login_free_failures_per_account
    guesses = [_change(client, world.auth("reviewer"), f"guess {n}", NEW) for n in range(free + 1)]
    assert guesses == [401] * (free + 1)  # the last failure locks the account for 1 s

    body = {"current_password": PASSWORD, "new_password": NEW}  # even the right one waits
    refused = client.post("/me/password", json=body, headers=world.auth("reviewer"))

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_attempts"
    signing_in = client.get("/departments", headers=_basic("reviewer@example.com", PASSWORD))
    assert signing_in.status_code == 429  # one allowance with sign-in
    app: Any = client.app
    app.state.clock = lambda: now + timedelta(seconds=2)
    assert _change(client, world.auth("reviewer"), PASSWORD, NEW) == 204


def test_another_persons_guesses_do_not_throttle_you(client: TestClient, world: World) -> None:
    _stand_still(client)
    free = Settings().login_free_failures_per_account
    for n in range(free + 2):
        _change(client, world.auth("auditor"), f"guess {n}", NEW)

    assert _change(client, world.auth("reviewer"), PASSWORD, NEW) == 204


def test_the_429_is_documented_on_the_operation(client: TestClient, world: World) -> None:
    document = client.get("/openapi.json", headers=world.auth("reviewer")).json()
    answer = document["paths"]["/me/password"]["post"]["responses"]["429"]
    assert "wrong passwords" in answer["description"]
