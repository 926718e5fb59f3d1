"""Readiness and request ids: `/readyz` answers for the database, every answer carries an id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_world import World
from fastapi.testclient import TestClient

from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING


def test_readyz_answers_when_the_database_does(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok"}


def test_readyz_is_503_problem_when_the_database_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "deshi.db"  # SQLite cannot open it
    app = create_app(
        Settings(database_url=f"sqlite:///{missing}", password_hash_profile=CHEAP_HASHING)
    )
    with TestClient(app) as client:
        ready, live = client.get("/readyz"), client.get("/healthz")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["status"] == 503
    assert live.status_code == 503  # the liveness check still reports the database too
    app.state.engine.dispose()


def test_every_response_carries_a_new_request_id(client: TestClient, world: World) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/items/999999", headers=world.auth("owner"))
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert second.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{32}", second.headers["x-request-id"])
    assert first != second.headers["x-request-id"]


def test_a_callers_request_id_is_kept(client: TestClient) -> None:
    sent = "lb-7f3a.2:req_19"
    assert client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["has spaces", "x" * 129, "semi;colon", ""])
def test_a_request_id_that_is_not_an_id_is_replaced(client: TestClient, sent: str) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
    assert answered != sent
    assert re.fullmatch(r"[0-9a-f]{32}", answered)
