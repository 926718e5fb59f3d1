"""Every change made through the API writes exactly one audit event of its own, reads and
idempotent re-sends write none, and the chain verifies after a session of calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import verify_chain
from deshi.db.tables import AuditEvent

LEARNING_EVENTS = {"model.retrain"}  # written by learning (a bootstrap model), not by the call


def _actions(factory: sessionmaker[Session], after_seq: int) -> list[str]:
    with factory() as session:
        query = select(AuditEvent.action).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq)
        return [a for a in session.scalars(query) if a not in LEARNING_EVENTS]


def _head(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())) or 0)


def test_one_audit_event_per_change_and_the_chain_verifies(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    h = world.auth("owner")
    p = world.own_process
    state: dict[str, Any] = {}

    def create() -> Any:
        r = client.post(
            "/processes", json={"department_id": world.own_department, "name": "n"}, headers=h
        )
        state["new"] = r.json()["id"]
        return r

    def item() -> Any:
        r = client.post(
            f"/processes/{p}/items", json={"external_id": "e1", "text": "card"}, headers=h
        )
        state["item"] = r.json()["id"]
        return r

    calls: list[tuple[str, Callable[[], Any], list[str]]] = [
        ("create", create, ["process.create"]),
        (
            "patch",
            lambda: client.patch(f"/processes/{p}", json={"mode": "assist"}, headers=h),
            ["process.update"],
        ),
        (
            "patch same",
            lambda: client.patch(f"/processes/{p}", json={"mode": "assist"}, headers=h),
            [],
        ),
        ("item", item, ["item.ingest"]),
        (
            "resend",
            lambda: client.post(f"/processes/{p}/items", json={"external_id": "e1"}, headers=h),
            [],
        ),
        (
            "batch",
            lambda: client.post(
                f"/processes/{p}/items:batch",
                json={"items": [{"text": "a"}, {"text": "b"}]},
                headers=h,
            ),
            ["item.ingest"],
        ),
        ("read", lambda: client.get(f"/items/{state['item']}", headers=h), []),
        ("claim", lambda: client.post(f"/processes/{p}/queue/claim", headers=h), ["item.claim"]),
        (
            "release",
            lambda: client.post(f"/items/{state['item']}/release", headers=h),
            ["item.release"],
        ),
        (
            "claim again",
            lambda: client.post(f"/processes/{p}/queue/claim", headers=h),
            ["item.claim"],
        ),
        (
            "review",
            lambda: client.post(
                f"/items/{state['item']}/review",
                json={"action": "correct", "label": "card_arrival"},
                headers=h,
            ),
            ["item.review"],
        ),
        (
            "forbidden",
            lambda: client.patch(
                f"/processes/{p}", json={"mode": "shadow"}, headers=world.auth("auditor")
            ),
            [],
        ),
        (
            "archive",
            lambda: client.post(f"/processes/{state['new']}/archive", headers=h),
            ["process.archive"],
        ),
    ]
    for name, call, expected in calls:
        head = _head(session_factory)
        response = call()
        assert response.status_code < 500, (name, response.text)
        assert _actions(session_factory, head) == expected, name
    with session_factory() as session:
        result = verify_chain(session)
    assert result.ok and result.checked > len(calls)


def test_policy_update_is_audited_with_before_and_after(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    body = {
        "error_budget": 0.02,
        "confidence": 0.9,
        "audit_rate": 0.1,
        "mode": "autopilot",
        "sensitive_labels": ["lost_or_stolen_card"],
        "always_human_rules": [{"name": "big", "field": "amount", "op": ">", "value": 1000}],
        "human_minutes_per_item": 3.5,
        "hourly_rate": 40,
        "cost_per_escaped_error": 25,
        "running_cost_per_week": 120,
    }
    r = client.patch(f"/processes/{world.own_process}", json=body, headers=world.auth("owner"))
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in body} == {
        **body,
        "always_human_rules": [{"name": "big", "field": "amount", "op": ">", "value": 1000}],
    }
    with session_factory() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "process.update")
        ).one()
    assert event.before["mode"] == "shadow" and event.after["mode"] == "autopilot"
    assert event.actor == f"user:{world.user_ids['owner']}"


def test_archive_twice_is_a_conflict_and_hides_from_listing(
    client: TestClient, world: World
) -> None:
    h = world.auth("owner")
    assert client.post(f"/processes/{world.own_process}/archive", headers=h).status_code == 200
    assert client.post(f"/processes/{world.own_process}/archive", headers=h).status_code == 409
    assert client.get("/processes", headers=h).json() == []
    listed = client.get("/processes?include_archived=true", headers=h).json()
    assert [p["id"] for p in listed] == [world.own_process]


def test_creating_a_process_makes_the_caller_its_owner(client: TestClient, world: World) -> None:
    r = client.post(
        "/processes",
        json={"department_id": world.own_department, "name": "invoices", "labels": ["a", "a", "b"]},
        headers=world.auth("owner"),
    )
    assert r.status_code == 201
    assert r.json()["owner_user_id"] == world.user_ids["owner"]
    assert r.json()["labels"] == ["a", "b"] and r.json()["mode"] == "shadow"
