"""`GET /items/{id}/drafts` lists an item's stored drafts with their verdicts (404 outside its
department), `deshi item show --json` gives what `GET /items/{id}` and this route give, and
`deshi draft --item ID` drafts the item's reply from its own text and department."""

from __future__ import annotations

import json

import pytest
from api_world import World
from fastapi.testclient import TestClient
from test_item_passages_api import _stocked_item
from typer.testing import CliRunner

from deshi.cli import draft as draft_cli
from deshi.cli.main import app as cli
from knowledge_fakes import fake_index


def _item_with_draft(api: TestClient, world: World) -> tuple[int, int]:
    item_id = _stocked_item(api, world)
    body = {"department_id": world.own_department, "message": "I lost my card", "item_id": item_id}
    drafted = api.post("/knowledge/draft", json=body, headers=world.auth("reviewer"))
    assert drafted.status_code == 200, drafted.text
    return item_id, int(drafted.json()["id"])


def test_an_items_drafts_come_with_their_verdicts(api: TestClient, world: World) -> None:
    item_id, draft_id = _item_with_draft(api, world)
    url = f"/items/{item_id}/drafts"

    [shown] = api.get(url, headers=world.auth("auditor")).json()
    assert (shown["id"], shown["verdict"], shown["item_id"]) == (draft_id, None, item_id)
    assert shown["citations"] and "[1]" in shown["text"] and shown["faithfulness"] == 1.0
    verdict = {"verdict": "reject"}
    api.post(f"/drafts/{draft_id}/verdict", json=verdict, headers=world.auth("reviewer"))
    [judged] = api.get(url, headers=world.auth("auditor")).json()
    assert judged["verdict"] == "rejected" and judged["verdict_by"].startswith("user:")

    assert api.get(url, headers=world.auth("other_owner")).status_code == 404
    assert api.get("/items/99999/drafts", headers=world.auth("owner")).status_code == 404
    document = api.get("/openapi.json", headers=world.auth("auditor")).json()
    assert "/items/{item_id}/drafts" in document["paths"]


def test_item_show_json_is_what_the_api_gives(api: TestClient, world: World, db_url: str) -> None:
    item_id, _ = _item_with_draft(api, world)
    headers = world.auth("workspace_admin")  # the operator sees what a workspace admin sees
    item = api.get(f"/items/{item_id}", headers=headers).json()  # the first view
    drafts = api.get(f"/items/{item_id}/drafts", headers=headers).json()

    result = CliRunner().invoke(cli, ["item", "show", str(item_id), "--json", "--db", db_url])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {**item, "drafts": drafts}


def test_the_cli_drafts_an_items_reply_from_the_item_alone(
    api: TestClient, world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(draft_cli, "KnowledgeIndex", fake_index)  # the api's embedder
    item_id = _stocked_item(api, world)
    text = api.get(f"/items/{item_id}", headers=world.auth("owner")).json()["text"]

    result = CliRunner().invoke(cli, ["draft", "--item", str(item_id), "--json", "--db", db_url])

    assert result.exit_code == 0, result.output
    drafted = json.loads(result.stdout)
    assert drafted["item_id"] == item_id and drafted["citations"]
    body = {"department_id": world.own_department, "message": text}
    same = api.post("/knowledge/draft", json=body, headers=world.auth("owner")).json()
    assert drafted["text"] == same["text"]  # the item's text, from its department's documents
    [stored] = api.get(f"/items/{item_id}/drafts", headers=world.auth("owner")).json()
    assert stored["id"] == drafted["id"]

    neither = CliRunner().invoke(cli, ["draft", "--db", db_url])
    assert neither.exit_code == 2 and "give MESSAGE and --department ID, or --item ID" in (
        neither.output
    )
    unknown = CliRunner().invoke(cli, ["draft", "--item", "99999", "--db", db_url])
    assert unknown.exit_code == 1 and "item 99999 not found" in unknown.output
