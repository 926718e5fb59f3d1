"""The inventory API: owners write, every role of the department reads the ranked list with a
90-day plan per candidate, other departments do not exist, and every change is audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from inventory_world import Org
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.audit import verify_chain
from deshi.db.tables import AuditEvent
from deshi.inventory.ranking import CandidateProcess, rank_processes

CANDIDATES: list[dict[str, Any]] = [
    {  # big but hard to measure
        "name": "invoice matching",
        "monthly_volume": 4000,
        "minutes_per_item": 6,
        "exception_rate": 0.2,
        "measurability": 1,
        "hourly_rate": 40,
    },
    {
        "name": "ticket routing",
        "monthly_volume": 3000,
        "minutes_per_item": 3,
        "exception_rate": 0.1,
        "measurability": 5,
        "hourly_rate": 35,
    },
    {
        "name": "address changes",
        "monthly_volume": 500,
        "minutes_per_item": 4,
        "exception_rate": 0.4,
        "measurability": 4,
        "hourly_rate": 30,
        "notes": "mostly e-mail",
    },
]


def _add(client: TestClient, org: Org, body: dict[str, Any], who: str = "owner") -> Any:
    return client.post(
        f"/departments/{org.own_department}/inventory", json=body, headers=org.auth(who)
    )


def _actions(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        query = select(AuditEvent.action, AuditEvent.object_type).order_by(AuditEvent.seq)
        return [(a, t) for a, t in session.execute(query) if a.startswith("inventory.")]


def test_ranking_order_and_savings_match_the_pure_function(client: TestClient, org: Org) -> None:
    for body in CANDIDATES:
        assert _add(client, org, body).status_code == 201
    response = client.get(
        f"/departments/{org.own_department}/inventory", headers=org.auth("auditor")
    )
    assert response.status_code == 200
    ranked = response.json()

    pure = rank_processes(
        [CandidateProcess(**{k: v for k, v in c.items() if k != "notes"}) for c in CANDIDATES]
    )
    assert [r["candidate"]["name"] for r in ranked] == [p.candidate.name for p in pure]
    assert [r["rank"] for r in ranked] == [1, 2, 3]
    for got, want in zip(ranked, pure, strict=True):
        assert got["expected_yearly_savings"] == pytest.approx(want.expected_yearly_savings)
        assert got["priority_score"] == pytest.approx(want.priority_score)
        assert [p["name"] for p in got["plan"]] == ["design", "limited_production", "scale"]
        assert [(p["start_day"], p["end_day"]) for p in got["plan"]] == [
            (0, 14),
            (15, 45),
            (46, 90),
        ]
        assert all(p["exit_criteria"] for p in got["plan"])
    assert ranked[0]["candidate"]["name"] == "ticket routing"  # measurable beats merely big
    assert ranked[-1]["candidate"]["notes"] == "mostly e-mail"


def test_owner_and_admin_write_reviewer_and_auditor_only_read(client: TestClient, org: Org) -> None:
    assert _add(client, org, CANDIDATES[0], "owner").status_code == 201
    assert _add(client, org, CANDIDATES[1], "admin").status_code == 201
    assert _add(client, org, CANDIDATES[2], "workspace_admin").status_code == 201
    for reader in ("reviewer", "auditor"):
        refused = _add(client, org, {**CANDIDATES[0], "name": reader}, reader)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        listed = client.get(
            f"/departments/{org.own_department}/inventory", headers=org.auth(reader)
        )
        assert len(listed.json()) == 3
        first = listed.json()[0]["candidate"]["id"]
        assert client.delete(f"/inventory/{first}", headers=org.auth(reader)).status_code == 403


def test_other_departments_inventory_does_not_exist(client: TestClient, org: Org) -> None:
    candidate = _add(client, org, CANDIDATES[0]).json()
    own = f"/departments/{org.own_department}/inventory"
    stranger = org.auth("other_owner")
    assert client.get(own, headers=stranger).status_code == 404
    assert client.post(own, json=CANDIDATES[1], headers=stranger).status_code == 404
    assert client.delete(f"/inventory/{candidate['id']}", headers=stranger).status_code == 404
    missing = client.get("/departments/999/inventory", headers=org.auth("workspace_admin"))
    assert missing.status_code == 404
    assert (
        client.get(own, headers=org.auth("owner")).json()[0]["candidate"]["id"] == candidate["id"]
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("exception_rate", 1.5), ("measurability", 0), ("monthly_volume", -1), ("currency", "usd")],
)
def test_invalid_figures_are_problems_naming_the_field(
    client: TestClient, org: Org, field: str, value: Any
) -> None:
    response = _add(client, org, {**CANDIDATES[0], field: value})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["field"] == field


def test_duplicate_names_conflict_and_currencies_cannot_mix(client: TestClient, org: Org) -> None:
    assert _add(client, org, CANDIDATES[0]).status_code == 201
    assert _add(client, org, CANDIDATES[0]).status_code == 409
    mixed = _add(client, org, {**CANDIDATES[1], "currency": "JPY"})
    assert mixed.status_code == 422
    assert mixed.json()["field"] == "currency"
    other = client.post(
        f"/departments/{org.other_department}/inventory",
        json={**CANDIDATES[0], "currency": "JPY"},
        headers=org.auth("other_owner"),
    )
    assert other.status_code == 201  # names and currency are per department


def test_each_change_writes_one_audit_event_and_reads_none(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    created = _add(client, org, CANDIDATES[0]).json()
    assert created["created_by"].startswith("user:")
    assert _actions(session_factory) == [("inventory.create", "inventory_candidates")]
    client.get(f"/departments/{org.own_department}/inventory", headers=org.auth("owner"))
    _add(client, org, {**CANDIDATES[1], "measurability": 9})  # refused: no event
    assert len(_actions(session_factory)) == 1

    deleted = client.delete(f"/inventory/{created['id']}", headers=org.auth("owner"))
    assert deleted.status_code == 204
    assert _actions(session_factory) == [
        ("inventory.create", "inventory_candidates"),
        ("inventory.delete", "inventory_candidates"),
    ]
    assert (
        client.get(f"/departments/{org.own_department}/inventory", headers=org.auth("owner")).json()
        == []
    )
    assert (
        client.delete(f"/inventory/{created['id']}", headers=org.auth("owner")).status_code == 404
    )
    with session_factory() as session:
        assert verify_chain(session).ok
