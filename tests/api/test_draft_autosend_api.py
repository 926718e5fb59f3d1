"""Drafts sent without review through the API and the CLI: the `draft_autosend` setting
(`PATCH /processes/{id}`, `deshi process update --draft-autosend`), its status (`GET
/processes/{id}/draft-autosend`, `deshi drafts autosend-status`), the reply sent on the item
(`GET /items/{id}`) and the would-be-sent draft offered to the reviewer of an audit sample."""

from __future__ import annotations

import json

import pytest
from api_world import World, certify
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app as cli
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item, Job, StoredDraft
from deshi.domain import ItemStatus
from deshi.engine.training import DeciderFactory
from deshi.items.autosend import DRAFT_AUTOSEND_JOB
from deshi.learning.registry import AgentRegistry
from fakes import CentroidDecider


@pytest.fixture
def make_decider() -> DeciderFactory:
    return CentroidDecider  # twenty reviews certify a label threshold (tests/api/test_routing.py)


def _stored(world: World, item_id: int, **fields: object) -> StoredDraft:
    return StoredDraft(
        department_id=world.own_department,
        process_id=world.own_process,
        item_id=item_id,
        drafter="extractive",
        text="Freeze the card in the app [1].",
        faithfulness=1.0,
        has_unsupported_claim=False,
        created_by="system:autosend",
        score=0.97,
        **fields,
    )


@pytest.fixture
def item(world: World, session_factory: sessionmaker[Session]) -> int:
    with transaction(session_factory) as session:
        row = Item(process_id=world.own_process, text="Where is my card?", status=ItemStatus.QUEUED)
        session.add(row)
        session.flush()
        return row.id


def test_an_owner_switches_it_on_and_the_status_says_what_holds_it(
    client: TestClient, world: World
) -> None:
    url, owner = f"/processes/{world.own_process}", world.auth("owner")
    assert client.get(url, headers=owner).json()["draft_autosend"] is False
    status = client.get(f"{url}/draft-autosend", headers=world.auth("auditor"))
    assert status.status_code == 200 and status.json()["state"] == "off"

    on = client.patch(url, json={"draft_autosend": True}, headers=owner)
    assert on.status_code == 200 and on.json()["draft_autosend"] is True
    found = client.get(f"{url}/draft-autosend", headers=world.auth("reviewer")).json()
    assert found["enabled"] and found["state"] == "not_certified"
    assert found["threshold"] is None and (found["sent"], found["held"]) == (0, {})

    assert client.patch(url, json={"draft_autosend": None}, headers=owner).status_code == 422
    refused = client.patch(url, json={"draft_autosend": False}, headers=world.auth("reviewer"))
    assert refused.status_code == 403
    hidden = client.get(f"{url}/draft-autosend", headers=world.auth("other_owner"))
    assert hidden.status_code == 404


def test_the_status_endpoint_is_in_the_openapi_document(client: TestClient, world: World) -> None:
    document = client.get("/openapi.json", headers=world.auth("owner")).json()
    assert "get" in document["paths"]["/processes/{process_id}/draft-autosend"]
    update = document["components"]["schemas"]["ProcessUpdate"]["properties"]
    assert update["draft_autosend"]["type"] == "boolean"  # omittable, never null


def test_the_item_shows_the_reply_sent_for_it(
    client: TestClient, world: World, item: int, session_factory: sessionmaker[Session]
) -> None:
    assert client.get(f"/items/{item}", headers=world.auth("owner")).json()["sent_draft"] is None
    with transaction(session_factory) as session:
        session.add(_stored(world, item, autosend="sent", sent_at=utcnow()))
    sent = client.get(f"/items/{item}", headers=world.auth("owner")).json()["sent_draft"]
    assert sent["text"] == "Freeze the card in the app [1]." and sent["score"] == 0.97


def test_the_reviewer_of_an_audit_sample_is_offered_its_held_draft(
    client: TestClient, world: World, item: int, session_factory: sessionmaker[Session]
) -> None:
    claim = f"/processes/{world.own_process}/queue/claim"
    held = client.post(claim, headers=world.auth("reviewer"))
    assert held.status_code == 200 and held.json()["draft_id"] is None
    with transaction(session_factory) as session:
        row = _stored(world, held.json()["id"], autosend="audit_sample")
        session.add(row)
        session.flush()
        draft_id = row.id
    again = client.post(claim, headers=world.auth("reviewer"))  # the same item, lease renewed
    assert again.json()["id"] == held.json()["id"] and again.json()["draft_id"] == draft_id
    judged = client.post(
        f"/drafts/{draft_id}/verdict", json={"verdict": "accept"}, headers=world.auth("reviewer")
    )
    assert judged.status_code == 200
    assert client.post(claim, headers=world.auth("reviewer")).json()["draft_id"] is None


def test_the_cli_switches_it_and_prints_the_status(db_url: str, world: World) -> None:
    runner = CliRunner()
    process = str(world.own_process)
    on = runner.invoke(
        cli, ["process", "update", process, "--draft-autosend", "--json", "--db", db_url]
    )
    assert on.exit_code == 0, on.output
    assert json.loads(on.stdout)["draft_autosend"] is True

    found = runner.invoke(
        cli, ["drafts", "autosend-status", "--process", process, "--json", "--db", db_url]
    )
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["state"] == "not_certified"
    text = runner.invoke(
        cli, ["drafts", "autosend-status", "--process", process, "--lang", "ja", "--db", db_url]
    )
    assert text.exit_code == 0 and "未認定" in text.stdout

    off = runner.invoke(cli, ["process", "update", process, "--no-draft-autosend", "--db", db_url])
    assert off.exit_code == 0, off.output
    found = runner.invoke(cli, ["drafts", "autosend-status", "--process", process, "--db", db_url])
    assert "off: drafts are suggestions only" in found.stdout
    missing = runner.invoke(cli, ["drafts", "autosend-status", "--process", "999", "--db", db_url])
    assert missing.exit_code != 0


@pytest.mark.parametrize(
    ("policy", "queued", "audit"),
    [({}, True, False), ({"audit_rate": 1.0}, True, True), ({"mode": "assist"}, False, False)],
)
def test_ingest_queues_the_drafting_of_auto_completed_and_audit_sampled_items(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
    policy: dict[str, object],
    queued: bool,
    audit: bool,
) -> None:
    [(text, _), *_] = certify(client, world, factory=session_factory, registry=registry)
    url, owner = f"/processes/{world.own_process}", world.auth("owner")
    body = {"mode": "autopilot", "draft_autosend": True, **policy}
    client.patch(url, json=body, headers=owner).raise_for_status()
    item = client.post(f"{url}/items", json={"text": text}, headers=owner).json()

    with session_factory() as session:
        payloads = [j.payload for j in session.query(Job).filter(Job.kind == DRAFT_AUTOSEND_JOB)]
    found = [(p["item_id"], p["audit"]) for p in payloads if p["item_id"] == item["id"]]
    assert found == ([(item["id"], audit)] if queued else [])
