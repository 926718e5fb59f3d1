"""A process's drafting fields through `PATCH /processes/{id}` (set, merged, removed, audited as
`process.update`, refused naming `draft_fields`), a field filled through `POST /knowledge/draft`
(`field`: the value, cited and checked, stored with its field and listed among the item's
drafts; 422 naming `field` for one the process lacks), and the same through `deshi draft --item
ID --field NAME` and `deshi process update --draft-field / --clear-draft-field`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_world import World, process_updates
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli import draft as draft_cli
from deshi.cli.main import app as cli
from deshi.processes.draft_fields import MAX_INSTRUCTION_CHARS
from knowledge_fakes import fake_index

REFUND = "How many days the customer has to ask for a refund"
GUIDE = (
    "# Lost or stolen cards\n\nReport a lost or stolen card at once: the card is blocked and a "
    "new card is sent.\n\n# Refunds\n\nA customer may ask for a refund of a card payment within "
    "30 days of the payment. Refunds are paid back to the card.\n"
)


def test_fields_are_set_merged_removed_and_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    r = world.patch_process(client, {"draft_fields": {"refund_deadline": f"  {REFUND}\r\n"}})
    assert r.status_code == 200, r.text
    assert r.json()["draft_fields"] == {"refund_deadline": REFUND}
    world.patch_process(client, {"draft_fields": {"card_type": "Which card the customer has"}})
    shown = client.get(f"/processes/{world.own_process}", headers=world.auth("reviewer")).json()
    assert set(shown["draft_fields"]) == {"refund_deadline", "card_type"}
    r = world.patch_process(client, {"draft_fields": {"card_type": ""}})
    assert r.json()["draft_fields"] == {"refund_deadline": REFUND}
    [*_, first, second, removal] = process_updates(session_factory)
    assert (first.before["draft_fields"], first.after["draft_fields"]) == (
        {},
        {"refund_deadline": REFUND},
    )
    assert set(second.after["draft_fields"]) == {"refund_deadline", "card_type"}
    assert removal.before["draft_fields"] == second.after["draft_fields"]
    assert removal.after["draft_fields"] == {"refund_deadline": REFUND}


@pytest.mark.parametrize(
    "fields",
    [
        {"refund deadline": REFUND},
        {"refund_deadline": "x" * (MAX_INSTRUCTION_CHARS + 1)},
    ],
)
def test_bad_fields_are_refused_naming_draft_fields(
    client: TestClient, world: World, fields: dict[str, str]
) -> None:
    r = world.patch_process(client, {"draft_fields": fields})
    assert r.status_code == 422
    assert r.json()["field"].startswith("draft_fields")
    assert world.patch_process(client, {"draft_fields": None}).status_code == 422
    assert (
        world.patch_process(client, {"draft_fields": {"a": REFUND}}, "reviewer").status_code == 403
    )


def test_the_openapi_documents_the_fields(client: TestClient, world: World) -> None:
    schemas = client.get("/openapi.json", headers=world.auth("auditor")).json()["components"]
    update = schemas["schemas"]["ProcessUpdate"]["properties"]["draft_fields"]
    assert update["type"] == "object" and "anyOf" not in update  # omittable, not nullable
    assert update["additionalProperties"]["maxLength"] == MAX_INSTRUCTION_CHARS
    assert "draft_fields" in schemas["schemas"]["ProcessPublic"]["properties"]
    request = schemas["schemas"]["DraftRequest"]["properties"]["field"]
    assert "instead of drafting a reply" in request["description"]
    assert "field" in schemas["schemas"]["DraftPublic"]["properties"]
    assert "field" in schemas["schemas"]["StoredDraftPublic"]["properties"]


def _item_with_field(api: TestClient, world: World) -> int:
    upload = api.post(
        "/knowledge/documents",
        data={"department_id": str(world.own_department)},
        files={"file": ("guide.md", GUIDE.encode())},
        headers=world.auth("owner"),
    )
    assert upload.status_code == 201, upload.text
    assert (
        world.patch_process(api, {"draft_fields": {"refund_deadline": REFUND}}).status_code == 200
    )
    created = api.post(
        f"/processes/{world.own_process}/items",
        json={"text": "I paid twice for my card, can I get the money back?"},
        headers=world.auth("owner"),
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _ask(api: TestClient, world: World, item_id: int | None, field: str) -> Any:
    body = {
        "department_id": world.own_department,
        "message": "I paid twice for my card, can I get the money back?",
        "item_id": item_id,
        "field": field,
    }
    return api.post("/knowledge/draft", json=body, headers=world.auth("reviewer"))


def test_a_field_is_filled_cited_and_listed_among_the_items_drafts(
    api: TestClient, world: World
) -> None:
    item_id = _item_with_field(api, world)
    r = _ask(api, world, item_id, "refund_deadline")
    assert r.status_code == 200, r.text
    value = r.json()
    assert value["field"] == "refund_deadline" and value["drafter"] == "extractive"
    assert "within 30 days of the payment [1]." in value["text"]
    assert value["text"].count("[") == 1 and value["faithfulness"] == 1.0
    [stored] = api.get(f"/items/{item_id}/drafts", headers=world.auth("auditor")).json()
    assert (stored["id"], stored["field"], stored["text"]) == (
        value["id"],
        "refund_deadline",
        value["text"],
    )


def test_a_field_the_process_lacks_or_without_an_item_is_422_naming_field(
    api: TestClient, world: World
) -> None:
    item_id = _item_with_field(api, world)
    unknown = _ask(api, world, item_id, "card_type")
    assert unknown.status_code == 422 and unknown.json()["field"] == "field"
    assert "refund_deadline" in unknown.json()["detail"]  # the fields it has
    alone = _ask(api, world, None, "refund_deadline")
    assert alone.status_code == 422 and alone.json()["field"] == "field"
    assert api.get(f"/items/{item_id}/drafts", headers=world.auth("owner")).json() == []


def test_the_cli_fills_a_field_and_sets_the_fields(
    api: TestClient, world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(draft_cli, "KnowledgeIndex", fake_index)  # the api's embedder
    item_id = _item_with_field(api, world)
    runner = CliRunner()
    args = ["draft", "--item", str(item_id), "--field", "refund_deadline", "--db", db_url]

    as_json = runner.invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    drafted = json.loads(as_json.stdout)
    assert drafted["field"] == "refund_deadline" and "30 days" in drafted["text"]
    text = runner.invoke(cli, args)
    assert text.exit_code == 0 and text.stdout.startswith("refund_deadline:\n")
    unknown = runner.invoke(cli, [*args[:3], "--field", "card_type", "--db", db_url])
    assert unknown.exit_code == 1 and "not a drafting field" in unknown.output
    api.get(f"/items/{item_id}", headers=world.auth("owner"))  # passages found with its embedder
    shown = runner.invoke(cli, ["item", "show", str(item_id), "--db", db_url])
    assert shown.exit_code == 0 and "  refund_deadline: A customer may ask" in shown.stdout

    update = ["process", "update", str(world.own_process), "--db", db_url, "--json"]
    added = runner.invoke(cli, [*update, "--draft-field", "card_type=Which card they have"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["draft_fields"] == {
        "refund_deadline": REFUND,
        "card_type": "Which card they have",
    }
    cleared = runner.invoke(cli, [*update, "--clear-draft-field", "refund_deadline"])
    assert json.loads(cleared.stdout)["draft_fields"] == {"card_type": "Which card they have"}
    bad = runner.invoke(cli, [*update, "--draft-field", "no equals sign"])
    assert bad.exit_code == 1 and "NAME=instruction" in bad.output
    badname = runner.invoke(cli, [*update, "--draft-field", "1st=x"])
    assert badname.exit_code == 1 and "not a field name" in badname.output
