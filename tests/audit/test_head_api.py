from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from keyed import KEY, append, keyed_factory
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import check_anchor, key_id_of, parse_anchor
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import transaction
from deshi.domain import Role
from deshi.processes.service import create_department
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"


def _tokens(factory: sessionmaker[Session]) -> dict[str, str]:
    """An auditor and a reviewer of one department, with their API tokens."""
    tokens = {}
    with transaction(factory) as session:
        department = create_department(session, actor="test", name="Finance")
        for name, role in (("auditor", Role.AUDITOR), ("reviewer", Role.REVIEWER)):
            user = create_user(
                session,
                actor="test",
                email=f"{name}@example.com",
                display_name=name,
                password="a long enough password",
                password_hasher=PasswordHasher(CHEAP),
            )
            grant_role(
                session, actor="test", user_id=user.id, role=role, department_id=department.id
            )
            tokens[name] = issue_api_token(
                session, actor="test", user_id=user.id, name="t"
            ).plaintext
    return tokens


@pytest.fixture
def keyed_workspace(
    db_url: str, engine: object
) -> Iterator[tuple[sessionmaker[Session], dict[str, str]]]:
    with keyed_factory(db_url, KEY) as factory:
        tokens = _tokens(factory)
        append(factory, 3)
        yield factory, tokens


def _client(db_url: str, key: bytes | None) -> TestClient:
    settings = Settings(
        database_url=db_url,
        password_hash_profile=CHEAP,
        audit_key=key.decode() if key else None,
    )
    return TestClient(create_app(settings))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_auditor_fetches_the_signed_head_and_it_anchors(
    db_url: str, keyed_workspace: tuple[sessionmaker[Session], dict[str, str]]
) -> None:
    factory, tokens = keyed_workspace
    with _client(db_url, KEY) as client:
        response = client.get("/audit/head", headers=_bearer(tokens["auditor"]))
    assert response.status_code == 200, response.text
    anchor = parse_anchor(json.dumps(response.json()))
    assert anchor.key_id == key_id_of(KEY) and anchor.keyed_from == 1
    with factory() as session:
        result = check_anchor(session, anchor)
    assert result.ok and anchor.seq == result.head_seq


def test_a_reviewer_may_not_fetch_the_head(
    db_url: str, keyed_workspace: tuple[sessionmaker[Session], dict[str, str]]
) -> None:
    _, tokens = keyed_workspace
    with _client(db_url, KEY) as client:
        response = client.get("/audit/head", headers=_bearer(tokens["reviewer"]))
        anonymous = client.get("/audit/head")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401


def test_without_an_audit_key_the_head_is_unavailable(
    db_url: str, engine: object, session_factory: sessionmaker[Session]
) -> None:
    tokens = _tokens(session_factory)
    with _client(db_url, None) as client:
        response = client.get("/audit/head", headers=_bearer(tokens["auditor"]))
    assert response.status_code == 503
    assert "needs an audit key" in response.json()["detail"]


def test_the_head_is_documented_in_openapi(db_url: str, engine: object) -> None:
    with _client(db_url, KEY) as client:
        operation = client.app.openapi()["paths"]["/audit/head"]["get"]  # type: ignore[attr-defined]
    assert {"200", "403", "503"} <= set(operation["responses"])
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/AuditAnchorPublic")
