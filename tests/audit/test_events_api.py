"""GET /audit/events filters and pages the log with names; GET /audit/export streams a range
with a proof that verifies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from keyed import KEY, keyed_factory
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import AuditKeyring, ObjectRef, record_event, verify_export
from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import transaction
from deshi.domain import Role
from deshi.processes.service import create_department
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"


def _workspace(factory: sessionmaker[Session]) -> dict[str, str]:
    """Two departments; an auditor of the first; 30 events about items of each; tokens."""
    with transaction(factory) as session:
        first = create_department(session, actor="test", name="Finance")
        second = create_department(session, actor="test", name="Legal")
        tokens = {}
        for name, role, department in (("auditor", Role.AUDITOR, first.id),
                                       ("admin", Role.ADMIN, None)):  # fmt: skip
            user = create_user(
                session, actor="test", email=f"{name}@example.com", display_name=name.title(),
                password="a long enough password", password_hasher=PasswordHasher(CHEAP),
            )  # fmt: skip
            grant_role(session, actor="test", user_id=user.id, role=role, department_id=department)
            tokens[name] = issue_api_token(
                session, actor="test", user_id=user.id, name="t"
            ).plaintext
        ids = {"Finance": first.id, "Legal": second.id}
    for i in range(60):
        department = "Finance" if i % 2 == 0 else "Legal"
        with transaction(factory) as session:
            record_event(
                session, actor="user:1", action="role.grant" if i % 3 == 0 else "x.update",
                obj=ObjectRef("role_grants", str(100 + i)),
                after={"department_id": ids[department], "role": "reviewer", "n": i},
            )  # fmt: skip
    return tokens


@pytest.fixture
def keyed(db_url: str, engine: object) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with keyed_factory(db_url, KEY) as factory:
        tokens = _workspace(factory)
    settings = Settings(database_url=db_url, password_hash_profile=CHEAP, audit_key=KEY.decode())
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_pages_walk_the_filtered_log_without_gaps(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = keyed
    seen: list[int] = []
    params: dict[str, object] = {"action": "x.update", "limit": 7}
    while True:
        page = client.get("/audit/events", params=params, headers=_auth(tokens["admin"])).json()
        seen += [e["seq"] for e in page["events"]]
        assert all(e["action"] == "x.update" for e in page["events"])
        if page["older"] is None:
            break
        params["before"] = page["older"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 40
    back = client.get(
        "/audit/events", params={"action": "x.update", "limit": 7, "after": seen[13]},
        headers=_auth(tokens["admin"]),
    ).json()  # fmt: skip
    assert [e["seq"] for e in back["events"]] == seen[6:13] and back["newer"] == seen[6]


def test_an_auditor_sees_names_and_only_their_department(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = keyed
    page = client.get(
        "/audit/events", params={"q": "reviewer", "limit": 500}, headers=_auth(tokens["auditor"])
    ).json()
    assert len(page["events"]) == 30 and page["older"] is None
    event = page["events"][0]
    assert event["object_name"] == "reviewer · Finance"
    assert event["at"].endswith(("Z", "+00:00"))


def test_bad_filters_are_422_and_readers_only(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = keyed
    auth = _auth(tokens["auditor"])
    assert client.get("/audit/events", params={"limit": 0}, headers=auth).status_code == 422
    assert client.get("/audit/events", params={"nope": 1}, headers=auth).status_code == 422
    assert client.get("/audit/events", params={"q": "a\x00b"}, headers=auth).status_code == 422
    assert client.get("/audit/events").status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_streams_a_verifiable_range(
    keyed: tuple[TestClient, dict[str, str]], fmt: str
) -> None:
    client, tokens = keyed
    response = client.get(
        "/audit/export", params={"format": fmt, "action": "role.grant"},
        headers=_auth(tokens["auditor"]),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    check = verify_export(response.text, keyring=AuditKeyring((KEY,)))
    assert check.ok and check.fully_checked, check.reason
    assert check.events == 11  # ten in Finance, and the auditor's own grant
    assert check.proof.filters == {"action": "role.grant"}
    assert check.proof.departments is not None and len(check.proof.departments) == 1


def test_the_new_routes_are_documented(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = keyed
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    events = paths["/audit/events"]["get"]
    names = {p["name"] for p in events["parameters"]}
    assert {"actor", "action", "object_type", "object_id", "since", "until", "q"} <= names
    export = paths["/audit/export"]["get"]["responses"]["200"]["content"]
    assert {"text/csv; charset=utf-8", "application/x-ndjson"} <= set(export)
