"""`POST /knowledge/draft` stores the draft (against an item when asked), `POST
/drafts/{id}/verdict` records the reviewer's verdict once, `GET /processes/{id}/drafting` and
`deshi drafts kpis` measure them, and `deshi drafts verdict` is the operator's way in."""

from __future__ import annotations

import json

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app as cli
from deshi.db import transaction
from deshi.db.tables import Item
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents

POLICY = (
    "# Lost and late cards\n\nA new card arrives within 5 working days. If it has not arrived "
    "after 7 days, freeze it in the app and order a replacement.\n"
)
MESSAGE = "My new card has not arrived after 8 days, what do I do?"


@pytest.fixture
def item(world: World, session_factory: sessionmaker[Session]) -> int:
    """The own department's knowledge base and one item of its process."""
    with transaction(session_factory) as session:
        store_documents(
            session,
            actor="test",
            department_id=world.own_department,
            files=[SourceFile("cards.md", POLICY.encode())],
            index=KnowledgeIndex(),
        )
        row = Item(process_id=world.own_process, text=MESSAGE, arm="assisted")
        session.add(row)
        session.flush()
        return row.id


def _draft(client: TestClient, world: World, item: int | None, who: str = "reviewer") -> int:
    body = {"department_id": world.own_department, "message": MESSAGE, "item_id": item}
    response = client.post("/knowledge/draft", json=body, headers=world.auth(who))
    assert response.status_code == 200, response.text
    assert response.json()["item_id"] == item
    draft_id: int = response.json()["id"]
    return draft_id


def test_a_reviewer_drafts_for_an_item_and_edits_the_draft(
    client: TestClient, world: World, item: int
) -> None:
    draft_id = _draft(client, world, item)
    body = {"verdict": "edit", "text": "Please freeze the card in the app [1]."}
    response = client.post(f"/drafts/{draft_id}/verdict", json=body, headers=world.auth("reviewer"))

    assert response.status_code == 200, response.text
    judged = response.json()
    assert judged["verdict"] == "edited" and judged["item_id"] == item
    assert 0 < judged["edit_distance"] < 1 and judged["verdict_by"].startswith("user:")
    again = client.post(f"/drafts/{draft_id}/verdict", json=body, headers=world.auth("reviewer"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_who_may_judge_a_draft(client: TestClient, world: World, item: int) -> None:
    draft_id = _draft(client, world, item)
    url, accept = f"/drafts/{draft_id}/verdict", {"verdict": "accept"}

    assert client.post(url, json=accept, headers=world.auth("auditor")).status_code == 403
    assert client.post(url, json=accept, headers=world.auth("other_owner")).status_code == 404
    assert (
        client.post("/drafts/99999/verdict", json=accept, headers=world.auth("owner")).status_code
        == 404
    )
    assert client.post(url, json=accept, headers=world.auth("owner")).status_code == 200


def test_a_bad_verdict_is_a_422_naming_its_field(
    client: TestClient, world: World, item: int
) -> None:
    draft_id = _draft(client, world, item)
    url, headers = f"/drafts/{draft_id}/verdict", world.auth("reviewer")

    unknown = client.post(url, json={"verdict": "maybe"}, headers=headers)
    assert unknown.status_code == 422
    no_text = client.post(url, json={"verdict": "edit"}, headers=headers)
    assert no_text.status_code == 422 and no_text.json()["field"] == "text"


def test_an_item_of_another_department_cannot_be_drafted_for(
    client: TestClient, world: World, item: int
) -> None:
    body = {"department_id": world.other_department, "message": MESSAGE, "item_id": item}
    response = client.post("/knowledge/draft", json=body, headers=world.auth("other_owner"))
    assert response.status_code == 404


def test_the_drafting_kpis_count_the_verdicts(client: TestClient, world: World, item: int) -> None:
    headers = world.auth("reviewer")
    accepted, rejected = _draft(client, world, item), _draft(client, world, item)
    client.post(f"/drafts/{accepted}/verdict", json={"verdict": "accept"}, headers=headers)
    client.post(f"/drafts/{rejected}/verdict", json={"verdict": "reject"}, headers=headers)
    _draft(client, world, None)  # a draft for no item is no process's

    report = client.get(f"/processes/{world.own_process}/drafting", headers=headers).json()
    overall = report["overall"]
    assert (overall["drafts"], overall["judged"]) == (2, 2)
    assert overall["acceptance"]["value"] == 0.5 and overall["reviewer_changes"]["value"] == 0.5
    assert overall["faithfulness"]["value"] == 1.0 and overall["edit_distance"]["value"] == 0.0
    assert list(report["arms"]) == ["assisted"] and len(report["weeks"]) == 1
    other = client.get(
        f"/processes/{world.own_process}/drafting", headers=world.auth("other_owner")
    )
    assert other.status_code == 404
    bad_arm = client.get(f"/processes/{world.own_process}/drafting?arm=x", headers=headers)
    assert bad_arm.status_code == 422


def test_the_cli_judges_a_draft_and_prints_the_kpis(
    client: TestClient, db_url: str, world: World, item: int
) -> None:
    draft_id = _draft(client, world, item)
    runner = CliRunner()

    none = runner.invoke(cli, ["drafts", "verdict", str(draft_id), "--db", db_url])
    assert none.exit_code == 1 and "exactly one" in none.output
    judged = runner.invoke(
        cli,
        ["drafts", "verdict", str(draft_id), "--edit", "Freeze it [1].", "--json", "--db", db_url],
    )
    assert judged.exit_code == 0, judged.output
    assert json.loads(judged.stdout)["verdict"] == "edited"

    found = runner.invoke(
        cli, ["drafts", "kpis", "--process", str(world.own_process), "--json", "--db", db_url]
    )
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["overall"]["judged"] == 1
    table = runner.invoke(
        cli,
        ["drafts", "kpis", "--process", str(world.own_process), "--lang", "ja", "--db", db_url],
        env={"COLUMNS": "250"},
    )
    assert table.exit_code == 0 and "下書き" in table.stdout
    empty = runner.invoke(
        cli, ["drafts", "kpis", "--process", str(world.other_process), "--db", db_url]
    )
    assert empty.exit_code == 0 and "No drafts yet." in empty.stdout
