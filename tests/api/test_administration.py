"""Administration through the API: departments, users, roles, tokens, processes and model
versions, from a workspace with only its first admin to a reviewer and a service account at
work; every change audited with its before and after."""

from __future__ import annotations

import base64
from typing import Any

from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import verify_chain
from deshi.db import transaction
from deshi.db.tables import AuditEvent
from deshi.domain import ModelStatus
from deshi.learning.repo import insert_version


def _basic(email: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _events(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_new_workspace_is_set_up_through_the_api(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    admin = world.auth("workspace_admin")
    department = client.post("/departments", json={"name": "Customer care"}, headers=admin)
    assert department.status_code == 201, department.text
    department_id = department.json()["id"]
    process = client.post(
        "/processes",
        json={
            "department_id": department_id,
            "name": "inquiry routing",
            "labels": ["refund", "complaint", "refund"],
            "error_budget": 0.02,
            "audit_rate": 0.1,
            "mode": "assist",
        },
        headers=admin,
    )
    assert process.status_code == 201, process.text
    created = process.json()
    assert (created["labels"], created["error_budget"], created["mode"]) == (
        ["refund", "complaint"],
        0.02,
        "assist",
    )
    person = client.post(
        "/users", json={"email": "Hana@Example.com", "display_name": "Hana"}, headers=admin
    ).json()
    assert person["email"] == "hana@example.com" and len(person["password"]) >= 12
    granted = client.post(
        f"/roles?department_id={department_id}",
        json={"email": "hana@example.com", "role": "reviewer"},
        headers=admin,
    )
    assert granted.status_code == 201, granted.text
    bot = client.post("/users", json={"email": "crm@example.com", "service": True}, headers=admin)
    assert bot.json()["password"] is None and bot.json()["is_service"] is True
    client.post(
        f"/roles?department_id={department_id}",
        json={"user_id": bot.json()["id"], "role": "owner"},
        headers=admin,
    ).raise_for_status()
    token = client.post(
        "/tokens", json={"name": "crm", "user_id": bot.json()["id"]}, headers=admin
    ).json()
    assert token["token"].startswith("dsh_") and token["owner_email"] == "crm@example.com"

    machine = {"Authorization": f"Bearer {token['token']}"}
    sent = client.post(
        f"/processes/{created['id']}/items", json={"text": "I want my money back"}, headers=machine
    )
    assert sent.status_code == 201, sent.text
    reviewer = _basic("hana@example.com", person["password"])
    seen = client.get("/processes", headers=reviewer).json()
    assert [p["id"] for p in seen] == [created["id"]]
    claimed = client.post(f"/processes/{created['id']}/queue/claim", headers=reviewer)
    assert claimed.status_code == 200, claimed.text

    with session_factory() as session:
        assert verify_chain(session).ok
    actor = f"user:{world.user_ids['workspace_admin']}"
    [event] = [e for e in _events(session_factory, "department.create") if e.actor == actor]
    assert event.after["name"] == "Customer care"
    [hana] = [
        e for e in _events(session_factory, "user.create") if e.object_id == str(person["id"])
    ]
    assert hana.actor == actor and "password_hash" not in hana.after


def test_renaming_and_archiving_a_department_are_audited_with_before_and_after(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    admin = world.auth("workspace_admin")
    new = client.post("/departments", json={"name": "Finance"}, headers=admin).json()
    renamed = client.patch(f"/departments/{new['id']}", json={"name": "Accounts"}, headers=admin)
    assert renamed.json()["name"] == "Accounts"
    duplicate = client.patch(f"/departments/{new['id']}", json={"name": "Own"}, headers=admin)
    assert duplicate.status_code == 409
    [event] = _events(session_factory, "department.rename")
    assert (event.before["name"], event.after["name"]) == ("Finance", "Accounts")

    archived = client.post(f"/departments/{new['id']}/archive", headers=admin)
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    names = [d["name"] for d in client.get("/departments", headers=admin).json()]
    assert "Accounts" not in names
    every = client.get("/departments?include_archived=true", headers=admin).json()
    assert "Accounts" in [d["name"] for d in every]
    refused = client.post(
        "/processes", json={"department_id": new["id"], "name": "late"}, headers=admin
    )
    assert refused.status_code == 409
    grant = client.post(
        f"/roles?department_id={new['id']}",
        json={"email": "reviewer@example.com", "role": "auditor"},
        headers=admin,
    )
    assert grant.status_code == 409


def test_a_department_with_live_processes_cannot_be_archived(
    client: TestClient, world: World
) -> None:
    response = client.post(
        f"/departments/{world.own_department}/archive", headers=world.auth("workspace_admin")
    )
    assert response.status_code == 409
    assert "archive them first" in response.json()["detail"]


def test_a_deactivated_user_is_locked_out_at_once(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    reviewer = world.auth("reviewer")
    assert client.get("/processes", headers=reviewer).status_code == 200
    user_id = world.user_ids["reviewer"]
    response = client.post(f"/users/{user_id}/deactivate", headers=world.auth("workspace_admin"))
    assert response.status_code == 200 and response.json()["is_active"] is False

    assert client.get("/processes", headers=reviewer).status_code == 401
    password = _basic("reviewer@example.com", "a long enough password")
    assert client.get("/processes", headers=password).status_code == 401
    [event] = _events(session_factory, "user.deactivate")
    assert (event.before["is_active"], event.after["is_active"]) == (True, False)


def test_a_reactivated_user_is_let_in_again_with_their_grants(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    admin, reviewer = world.auth("workspace_admin"), world.auth("reviewer")
    user_id = world.user_ids["reviewer"]
    assert client.post(f"/users/{user_id}/reactivate", headers=admin).status_code == 409
    client.post(f"/users/{user_id}/deactivate", headers=admin)
    response = client.post(f"/users/{user_id}/reactivate", headers=admin)
    assert response.status_code == 200 and response.json()["is_active"] is True

    assert client.get(f"/processes/{world.own_process}", headers=reviewer).status_code == 200
    password = _basic("reviewer@example.com", "a long enough password")
    assert client.get("/processes", headers=password).status_code == 200
    [event] = _events(session_factory, "user.reactivate")
    assert (event.before["is_active"], event.after["is_active"]) == (False, True)


def test_the_last_workspace_admin_stays(client: TestClient, world: World) -> None:
    admin = world.auth("workspace_admin")
    me = world.user_ids["workspace_admin"]
    assert client.post(f"/users/{me}/deactivate", headers=admin).status_code == 409
    grants = client.get("/roles", headers=admin).json()
    [mine] = [g for g in grants if g["user_id"] == me and g["department_id"] is None]
    assert client.delete(f"/roles/{mine['id']}", headers=admin).status_code == 409


def test_a_password_reset_replaces_the_old_password(client: TestClient, world: World) -> None:
    user_id = world.user_ids["reviewer"]
    reset = client.post(f"/users/{user_id}/reset-password", headers=world.auth("workspace_admin"))
    assert reset.status_code == 200
    new = reset.json()["password"]
    old = _basic("reviewer@example.com", "a long enough password")
    assert client.get("/processes", headers=old).status_code == 401
    assert client.get("/processes", headers=_basic("reviewer@example.com", new)).status_code == 200


def test_a_service_account_has_no_password_to_reset(client: TestClient, world: World) -> None:
    admin = world.auth("workspace_admin")
    bot = client.post("/users", json={"email": "bot@example.com", "service": True}, headers=admin)
    reset = client.post(f"/users/{bot.json()['id']}/reset-password", headers=admin)
    assert reset.status_code == 409


def test_tokens_are_listed_without_secrets_and_revoked_at_once(
    client: TestClient, world: World
) -> None:
    owner = world.auth("owner")
    issued = client.post("/tokens", json={"name": "script"}, headers=owner).json()
    mine = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/processes", headers=mine).status_code == 200
    listed = client.get("/tokens", headers=owner).json()
    assert {t["name"] for t in listed} == {"t", "script"}
    script = next(t for t in listed if t["name"] == "script")
    assert "token" not in script and issued["token"].startswith(script["prefix"])
    assert script["last_used_at"] is not None and script["owner_email"] == "owner@example.com"

    revoked = client.post(f"/tokens/{issued['id']}/revoke", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/processes", headers=mine).status_code == 401


def test_no_token_is_issued_for_another_person(client: TestClient, world: World) -> None:
    response = client.post(
        "/tokens",
        json={"name": "x", "user_id": world.user_ids["reviewer"]},
        headers=world.auth("workspace_admin"),
    )
    assert response.status_code == 403


def test_a_user_sets_their_own_language(client: TestClient, world: World) -> None:
    me = world.user_ids["reviewer"]
    response = client.patch(
        f"/users/{me}", json={"locale": "ja", "display_name": "Rei"}, headers=world.auth("reviewer")
    )
    assert response.json()["locale"] == "ja" and response.json()["display_name"] == "Rei"
    bad = client.patch(f"/users/{me}", json={"locale": "xx"}, headers=world.auth("reviewer"))
    assert bad.status_code == 422 and bad.json()["field"] == "locale"


def test_grants_are_listed_per_department(client: TestClient, world: World) -> None:
    grants = client.get(
        f"/roles?department_id={world.own_department}", headers=world.auth("admin")
    ).json()
    roles = {(g["user_id"], g["role"]) for g in grants}
    assert (world.user_ids["reviewer"], "reviewer") in roles
    assert all(g["department_id"] == world.own_department for g in grants)
    # a department admin's unfiltered list holds only their departments' grants
    mine = client.get("/roles", headers=world.auth("admin")).json()
    assert {g["department_id"] for g in mine} == {world.own_department}


def _store_versions(factory: sessionmaker[Session], process_id: int) -> None:
    with transaction(factory) as session:
        for version, status in ((1, ModelStatus.RETIRED), (2, ModelStatus.CHAMPION)):
            insert_version(
                session,
                process_id=process_id,
                version=version,
                status=status,
                artifact=b"unused",
                metrics={"accuracy": [0.0, 0.81, 0.82][version]},
                threshold=0.9,
                trained_on=10 * version,
            )


def test_model_versions_are_listed_with_metrics_and_rolled_back(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    _store_versions(session_factory, world.own_process)
    url = f"/processes/{world.own_process}/models"
    listed: list[dict[str, Any]] = client.get(url, headers=world.auth("auditor")).json()
    assert [(v["version"], v["status"]) for v in listed] == [(2, "champion"), (1, "retired")]
    assert listed[0]["metrics"] == {"accuracy": 0.82} and "artifact" not in listed[0]

    rolled = client.post(f"{url}/1/rollback", headers=world.auth("owner"))
    assert rolled.status_code == 200 and rolled.json()["status"] == "champion"
    again = client.post(f"{url}/1/rollback", headers=world.auth("owner"))
    assert again.status_code == 409
    missing = client.post(f"{url}/9/rollback", headers=world.auth("owner"))
    assert missing.status_code == 404
    [event] = _events(session_factory, "model.rollback")
    assert (event.before, event.after) == ({"champion_version": 2}, {"champion_version": 1})
