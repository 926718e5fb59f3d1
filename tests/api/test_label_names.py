"""Readable label names through the API: owners name labels per language, everyone in the
department reads them, each change is audited, and bad names are refused naming `names`."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import LABELS, World
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import AuditEvent
from deshi.processes.label_names import display_name


def _name(client: TestClient, world: World, names: dict[str, Any], who: str = "owner") -> Any:
    return client.patch(
        f"/processes/{world.own_process}/labels", json={"names": names}, headers=world.auth(who)
    )


def test_names_are_set_per_language_and_read_by_the_department(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    r = _name(client, world, {"en": {"card_arrival": "Card has not arrived"}})
    assert r.status_code == 200, r.text
    r = _name(client, world, {"ja": {"card_arrival": "カード未着", "exchange_rate": "為替レート"}})
    listed = client.get(
        f"/processes/{world.own_process}/labels", headers=world.auth("reviewer")
    ).json()
    assert listed == r.json()
    assert [label["code"] for label in listed] == LABELS
    assert listed[0]["names"] == {"en": "Card has not arrived", "ja": "カード未着"}
    assert listed[2]["names"] == {"ja": "為替レート"}
    process = client.get(f"/processes/{world.own_process}", headers=world.auth("owner")).json()
    assert process["label_names"]["ja"]["card_arrival"] == "カード未着"
    with session_factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "process.label_names")
        ).all()
    assert len(events) == 2 and events[-1].after["label_names"]["ja"]["exchange_rate"]


def test_an_empty_name_removes_it_and_an_unchanged_one_is_not_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    _name(client, world, {"en": {"card_arrival": "Card has not arrived"}})
    _name(client, world, {"en": {"card_arrival": "Card has not arrived"}})  # no change
    r = _name(client, world, {"en": {"card_arrival": ""}})
    assert r.json()[0]["names"] == {}
    with session_factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "process.label_names")
        ).all()
    assert len(events) == 2


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"fr": {"card_arrival": "Carte"}}, "unknown language 'fr'"),
        ({"en": {"no_such_label": "Nope"}}, "'no_such_label' is not a label"),
        ({"en": {"card_arrival": "x" * 201}}, "longer than 200"),
    ],
)
def test_bad_names_are_refused_naming_the_field(
    client: TestClient, world: World, names: dict[str, Any], message: str
) -> None:
    r = _name(client, world, names)
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"] and r.json()["field"] == "names"


def test_only_those_who_manage_the_process_name_labels(client: TestClient, world: World) -> None:
    names = {"en": {"card_arrival": "Card"}}
    assert _name(client, world, names, "reviewer").status_code == 403
    assert _name(client, world, names, "other_owner").status_code == 404
    other = client.get(f"/processes/{world.own_process}/labels", headers=world.auth("other_owner"))
    assert other.status_code == 404


def test_a_reader_sees_their_language_then_english_then_the_code() -> None:
    names = {"en": {"card_arrival": "Card has not arrived"}, "ja": {"refund": "返金"}}
    assert display_name(names, "refund", "ja") == "返金"
    assert display_name(names, "refund", "en") == "Refund"  # no English name: the code
    assert display_name(names, "card_arrival", "ja") == "Card has not arrived"
    assert display_name({}, "card_not_arrived", "en") == "Card not arrived"
