"""Undo the last answer: within the window its reviewer gets the item back to answer again; the
withdrawn answer leaves the KPIs, the case memory and the webhooks, and the audit log says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import load_principal
from deshi.db import transaction
from deshi.db.tables import AuditEvent, Item, Job, ModelVersion, Process, Review
from deshi.errors import Conflict
from deshi.jobs.worker import Worker
from deshi.kpis.repo import load_item_records
from deshi.learning.jobs import retrain_handler
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB
from deshi.reviews.service import UNDO_WINDOW_SECONDS
from deshi.reviews.undo import undo_review


def _answered(client: TestClient, world: World, answer: dict[str, Any]) -> int:
    """Ingest one item, claim it as `reviewer` and answer it; the item's id."""
    owner, reviewer = world.auth("owner"), world.auth("reviewer")
    url = f"/processes/{world.own_process}"
    client.post(f"{url}/items", json={"text": "my card has not arrived"}, headers=owner)
    claimed = client.post(f"{url}/queue/claim", headers=reviewer).json()
    r = client.post(f"/items/{claimed['id']}/review", json=answer, headers=reviewer)
    assert r.status_code == 200, r.text
    return int(claimed["id"])


def _undo(client: TestClient, world: World, item_id: int, who: str = "reviewer") -> Any:
    return client.post(f"/items/{item_id}/review/undo", headers=world.auth(who))


def _memory_labels(
    factory: sessionmaker[Session], registry: AgentRegistry, process_id: int, item_id: int
) -> list[str]:
    """The labels the process's agent remembers for the item (as `registry` sees it now)."""
    with transaction(factory) as session:
        process = session.get_one(Process, process_id)
        with registry.agent(session, process) as entry:
            memory = entry.agent.memory
            return [
                label
                for case, label in zip(memory.case_ids, memory.labels, strict=True)
                if case == str(item_id)
            ]


def test_undo_gives_the_item_back_to_its_reviewer_to_answer_again(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    item_id = _answered(client, world, {"action": "correct", "label": "exchange_rate"})
    r = _undo(client, world, item_id)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == item_id and r.json()["labels"]
    reviewer = world.auth("reviewer")
    again = client.post(f"/processes/{world.own_process}/queue/claim", headers=reviewer)
    assert again.json()["id"] == item_id  # held by the same reviewer, shown again
    answer = {"action": "correct", "label": "card_arrival"}
    assert client.post(f"/items/{item_id}/review", json=answer, headers=reviewer).status_code == 200
    lineage = client.get(f"/items/{item_id}", headers=reviewer).json()
    assert [r["final_label"] for r in lineage["reviews"]] == ["card_arrival"]
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "items", AuditEvent.object_id == str(item_id))
            .order_by(AuditEvent.seq)
        ).all()
    assert "review.undo" in actions


def test_undo_of_an_escalation_takes_the_item_back_from_the_owners(
    client: TestClient, world: World
) -> None:
    item_id = _answered(client, world, {"action": "escalate"})
    assert _undo(client, world, item_id).status_code == 200
    owner_claim = client.post(
        f"/processes/{world.own_process}/queue/claim", headers=world.auth("owner")
    )
    assert owner_claim.status_code == 204  # no longer escalated, and held by the reviewer


def test_only_the_reviewer_who_answered_may_undo(client: TestClient, world: World) -> None:
    item_id = _answered(client, world, {"action": "correct", "label": "exchange_rate"})
    refused = _undo(client, world, item_id, "reviewer2")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert _undo(client, world, item_id, "auditor").status_code == 403
    assert _undo(client, world, item_id, "other_owner").status_code == 404


def test_an_item_without_an_answer_has_nothing_to_undo(client: TestClient, world: World) -> None:
    url = f"/processes/{world.own_process}"
    client.post(f"{url}/items", json={"text": "hello"}, headers=world.auth("owner"))
    claimed = client.post(f"{url}/queue/claim", headers=world.auth("reviewer")).json()
    r = _undo(client, world, claimed["id"])
    assert r.status_code == 409 and "no answer" in r.json()["detail"]


def test_undo_after_the_window_is_refused(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    item_id = _answered(client, world, {"action": "correct", "label": "exchange_rate"})
    with transaction(session_factory) as session:
        answered_at = session.scalars(select(Review.created_at)).one()
        principal = load_principal(session, world.user_ids["reviewer"])
        late = answered_at + timedelta(seconds=UNDO_WINDOW_SECONDS + 1)
        with pytest.raises(Conflict, match=f"only within {UNDO_WINDOW_SECONDS} s"):
            undo_review(session, principal=principal, item_id=item_id, now=late)
        in_time = answered_at + timedelta(seconds=UNDO_WINDOW_SECONDS - 1)
        held = undo_review(session, principal=principal, item_id=item_id, now=in_time)
    assert held.id == item_id


def test_an_undone_label_leaves_every_agents_memory(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    other_worker = AgentRegistry(make_decider=registry.make_decider)
    item_id = _answered(client, world, {"action": "correct", "label": "exchange_rate"})
    for agents in (registry, other_worker):  # the API's and another process's agent learned it
        assert _memory_labels(session_factory, agents, world.own_process, item_id) == [
            "exchange_rate"
        ]
    assert _undo(client, world, item_id).status_code == 200
    for agents in (registry, other_worker):
        assert _memory_labels(session_factory, agents, world.own_process, item_id) == []
    with session_factory() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "review.undo"))
        retrains = session.scalars(select(Job).where(Job.kind == RETRAIN_JOB)).all()
    # the first label bootstrapped model version 1 from it: a retrain without it is queued
    assert event.after["memory_retracted"] and event.after["retrain_queued"]
    assert event.before["review"]["final_label"] == "exchange_rate"
    assert [job.status.value for job in retrains] == ["queued"]
    answer = {"action": "correct", "label": "card_arrival"}
    reviewer = world.auth("reviewer")
    assert client.post(f"/items/{item_id}/review", json=answer, headers=reviewer).status_code == 200
    for agents in (registry, other_worker):
        assert _memory_labels(session_factory, agents, world.own_process, item_id) == [
            "card_arrival"
        ]


def test_an_undone_answer_is_not_counted_twice_in_the_kpis(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    first = {"action": "correct", "label": "exchange_rate", "seconds": 7}
    item_id = _answered(client, world, first)
    assert _undo(client, world, item_id).status_code == 200
    with session_factory() as session:
        item = session.get_one(Item, item_id)
        assert item.status.value == "claimed" and item.completed_at is None
        assert (
            load_item_records(session, session.get_one(Process, world.own_process))[0].final_label
            is None
        )
    second = {"action": "correct", "label": "card_arrival", "seconds": 4}
    reviewer = world.auth("reviewer")
    assert client.post(f"/items/{item_id}/review", json=second, headers=reviewer).status_code == 200
    with session_factory() as session:
        [record] = load_item_records(session, session.get_one(Process, world.own_process))
        reviews = session.scalars(select(Review).where(Review.item_id == item_id)).all()
    assert len(reviews) == 1
    assert record.final_label == "card_arrival" and record.handling_seconds == 4


def test_a_version_trained_on_an_undone_label_is_retrained_without_it(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
) -> None:
    first = _answered(client, world, {"action": "correct", "label": "exchange_rate"})  # v1
    _answered(client, world, {"action": "correct", "label": "card_arrival"})
    assert _undo(client, world, first).status_code == 200
    worker = Worker(session_factory, {RETRAIN_JOB: retrain_handler(registry)})
    assert worker.run_until_idle() >= 1
    with session_factory() as session:
        newest = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.process_id == world.own_process)
            .order_by(ModelVersion.version.desc())
        ).first()
    assert newest is not None and newest.version >= 2
    assert newest.trained_on == 1  # the label that stands, not the withdrawn one
