"""Drafting guidance per label through `PATCH /processes/{id}`: owners set and remove it, the
process shows it, each change is audited as `process.update` with before and after, and bad
guidance is refused naming `label_guidance`."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import World, process_updates
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from deshi.processes.label_guidance import MAX_GUIDANCE_CHARS, MAX_GUIDED_LABELS

APOLOGISE = "Apologise once, then give the tracking link. Never promise a delivery date."


def test_guidance_is_set_merged_shown_and_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    r = world.patch_process(client, {"label_guidance": {"card_arrival": f"  {APOLOGISE}\r\n"}})
    assert r.status_code == 200, r.text
    assert r.json()["label_guidance"] == {"card_arrival": APOLOGISE}  # trimmed
    r = world.patch_process(
        client, {"label_guidance": {"exchange_rate": "Quote no rate.\nLink FX."}}
    )
    shown = client.get(f"/processes/{world.own_process}", headers=world.auth("reviewer")).json()
    assert shown["label_guidance"] == r.json()["label_guidance"]
    assert shown["label_guidance"] == {
        "card_arrival": APOLOGISE,  # left out of the second PATCH: kept
        "exchange_rate": "Quote no rate.\nLink FX.",
    }
    [*_, first, second] = process_updates(session_factory)
    assert first.before["label_guidance"] == {}
    assert first.after["label_guidance"] == {"card_arrival": APOLOGISE}
    assert second.before["label_guidance"] == {"card_arrival": APOLOGISE}
    assert set(second.after["label_guidance"]) == {"card_arrival", "exchange_rate"}


def test_an_empty_text_removes_it_and_an_unchanged_one_is_not_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    world.patch_process(client, {"label_guidance": {"card_arrival": APOLOGISE}})
    audited = len(process_updates(session_factory))
    world.patch_process(client, {"label_guidance": {"card_arrival": APOLOGISE}})  # no change
    assert len(process_updates(session_factory)) == audited
    r = world.patch_process(client, {"label_guidance": {"card_arrival": "   "}})
    assert r.status_code == 200 and r.json()["label_guidance"] == {}
    [*_, removal] = process_updates(session_factory)
    assert removal.before["label_guidance"] == {"card_arrival": APOLOGISE}
    assert removal.after["label_guidance"] == {}


def test_guidance_may_name_a_label_added_in_the_same_patch(
    client: TestClient, world: World
) -> None:
    labels = client.get(f"/processes/{world.own_process}", headers=world.auth("owner")).json()
    body = {"labels": [*labels["labels"], "refund"], "label_guidance": {"refund": "Cite fees."}}
    r = world.patch_process(client, body)
    assert r.status_code == 200, r.text
    assert r.json()["label_guidance"] == {"refund": "Cite fees."}


@pytest.mark.parametrize(
    ("guidance", "message"),
    [
        ({"no_such_label": "Be brief."}, "'no_such_label' is not a label"),
        ({"card_arrival": "x" * (MAX_GUIDANCE_CHARS + 1)}, "at most 2000 characters"),
        ({"card_arrival": "Be\x00brief."}, "NUL"),
        ({"": "Be brief."}, "at least 1 character"),
        (None, "cannot be null"),
        ("Be brief.", "valid dictionary"),
    ],
)
def test_bad_guidance_is_refused_naming_the_field(
    client: TestClient, world: World, guidance: Any, message: str
) -> None:
    r = world.patch_process(client, {"label_guidance": guidance})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"], r.json()
    assert r.json()["field"].startswith("label_guidance")


def test_the_number_of_guided_labels_is_bounded(client: TestClient, world: World) -> None:
    labels = [f"label_{n}" for n in range(MAX_GUIDED_LABELS + 1)]
    guidance = dict.fromkeys(labels, "Be brief.")
    r = world.patch_process(client, {"labels": labels, "label_guidance": guidance})
    assert r.status_code == 422, r.text
    assert f"at most {MAX_GUIDED_LABELS} labels" in r.json()["detail"]
    assert r.json()["field"] == "label_guidance"


def test_only_those_who_manage_the_process_set_guidance(client: TestClient, world: World) -> None:
    body = {"label_guidance": {"card_arrival": APOLOGISE}}
    assert world.patch_process(client, body, "reviewer").status_code == 403
    assert world.patch_process(client, body, "other_owner").status_code == 404


def test_the_openapi_documents_the_field(client: TestClient, world: World) -> None:
    openapi = client.get("/openapi.json", headers=world.auth("auditor")).json()
    schemas = openapi["components"]["schemas"]
    update = schemas["ProcessUpdate"]["properties"]["label_guidance"]
    assert update["type"] == "object" and "anyOf" not in update  # omittable, not nullable
    assert update["additionalProperties"]["maxLength"] == MAX_GUIDANCE_CHARS
    assert "instructions" in update["description"]
    assert "label_guidance" in schemas["ProcessPublic"]["properties"]
