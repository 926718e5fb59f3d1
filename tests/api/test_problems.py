"""Bad input gets an application/problem+json answer naming the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import AuditEvent, Item

OWN = "{own}"

CASES: list[tuple[str, str, str, Any, int, str]] = [
    # (name, method, path, json body, status, field)
    ("wrong type", "POST", f"/processes/{OWN}/items", {"text": 5}, 422, "text"),
    ("unknown field", "POST", f"/processes/{OWN}/items", {"text": "x", "colour": 1}, 422, "colour"),
    ("server-owned id", "POST", f"/processes/{OWN}/items", {"text": "x", "id": 9}, 422, "id"),
    (
        "server-owned status",
        "POST",
        f"/processes/{OWN}/items",
        {"status": "completed"},
        422,
        "status",
    ),
    (
        "server-owned process",
        "POST",
        f"/processes/{OWN}/items",
        {"process_id": 2},
        422,
        "process_id",
    ),
    ("text too long", "POST", f"/processes/{OWN}/items", {"text": "x" * 20_001}, 422, "text"),
    ("empty batch", "POST", f"/processes/{OWN}/items:batch", {"items": []}, 422, "items"),
    (
        "batch field",
        "POST",
        f"/processes/{OWN}/items:batch",
        {"items": [{"txt": "a"}]},
        422,
        "items[0].txt",
    ),
    (
        "duplicate in batch",
        "POST",
        f"/processes/{OWN}/items:batch",
        {"items": [{"external_id": "a"}, {"external_id": "a"}]},
        422,
        "items[1].external_id",
    ),
    ("unknown process", "POST", "/processes/99999/items", {"text": "x"}, 404, ""),
    ("path type", "GET", "/items/abc", None, 422, "item_id"),
    ("unknown item", "GET", "/items/99999", None, 404, ""),
    ("budget range", "PATCH", f"/processes/{OWN}", {"error_budget": 1.5}, 422, "error_budget"),
    ("budget null", "PATCH", f"/processes/{OWN}", {"error_budget": None}, 422, "error_budget"),
    ("bad mode", "PATCH", f"/processes/{OWN}", {"mode": "yolo"}, 422, "mode"),
    (
        "bad regex",
        "PATCH",
        f"/processes/{OWN}",
        {"always_human_rules": [{"name": "r", "pattern": "("}]},
        422,
        "always_human_rules[0].pattern",
    ),
    (
        "server-owned department",
        "PATCH",
        f"/processes/{OWN}",
        {"department_id": 2},
        422,
        "department_id",
    ),
    ("missing name", "POST", "/processes", {"department_id": 1}, 422, "name"),
    (
        "review reviewer",
        "POST",
        "/items/1/review",
        {"action": "accept", "reviewer_id": 1},
        422,
        "reviewer_id",
    ),
    ("review action", "POST", "/items/1/review", {"action": "approve"}, 422, "action"),
    (
        "review seconds",
        "POST",
        "/items/1/review",
        {"action": "accept", "seconds": -1},
        422,
        "seconds",
    ),
]


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        items = session.scalar(select(func.count()).select_from(Item)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        return items, events


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    method: str,
    path: str,
    body: Any,
    status: int,
    field: str,
) -> None:
    before = _counts(session_factory)
    r = client.request(
        method, path.format(own=world.own_process), json=body, headers=world.auth("owner")
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field:
        assert problem["field"] == field
    assert _counts(session_factory) == before


def test_invalid_json_is_a_problem(client: TestClient, world: World) -> None:
    r = client.post(
        f"/processes/{world.own_process}/items",
        content=b'{"text": "unterminated',
        headers={**world.auth("owner"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "body"


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_missing_credentials_are_401(client: TestClient, world: World) -> None:
    r = client.get(f"/processes/{world.own_process}")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_basic_auth_with_email_and_password_works(client: TestClient, world: World) -> None:
    ok = client.get("/processes", auth=("owner@example.com", "a long enough password"))
    bad = client.get("/processes", auth=("owner@example.com", "wrong password!!"))
    assert (ok.status_code, bad.status_code) == (200, 401)


def test_healthz_checks_the_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_openapi_is_served(client: TestClient, world: World) -> None:
    document = client.get("/openapi.json", headers=world.auth("owner")).json()
    assert "/processes/{process_id}/items:batch" in document["paths"]
    assert client.get("/docs", headers=world.auth("owner")).status_code == 200
