"""Drafting fields on the pages: an owner adds, edits and removes them on the process's settings
page (audited as `process.update`, a bad name re-rendered with its reason), and the workbench's
draft panel has a button per field that fills it for the held item, in English and Japanese."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_pages import _login
from ui_world import PASSWORD, UiWorld

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import AuditEvent, Process
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents

REFUND = "How many days the customer has to ask for a refund"
GUIDE = (
    "# Cards\n\nA new card arrives within 5 working days.\n\n# Refunds\n\nA customer may ask "
    "for a refund of a card payment within 30 days of the payment.\n"
)


@pytest.fixture
def session_factory(ui_db: tuple[str, UiWorld]) -> Iterator[sessionmaker[Session]]:
    """Sessions on the module's seeded SQLite file (the UI world is SQLite only)."""
    engine = create_db_engine(ui_db[0])
    yield make_session_factory(engine)
    engine.dispose()


def _stored(factory: sessionmaker[Session], world: UiWorld) -> dict[str, str]:
    with factory() as session:
        return dict(session.get_one(Process, world.process_id).draft_fields)


def _post(client: TestClient, world: UiWorld, form: dict[str, str]) -> httpx.Response:
    return client.post(
        f"/admin/processes/{world.process_id}/draft-fields", data=form, follow_redirects=False
    )


def _instruction(page: str, name: str) -> str:
    block = re.search(rf'<div data-draft-field="{name}">.*?</div>', page, re.S)
    assert block, f"no instruction for {name}"
    content = re.search(r"<textarea[^>]*>(.*?)</textarea>", block.group(0), re.S)
    assert content
    return html.unescape(content.group(1))


@pytest.mark.parametrize(
    ("lang", "heading", "label"),
    [
        ("en", "Drafting fields", "Instruction for refund_deadline"),
        ("ja", "下書きで埋める項目", "refund_deadlineの指示"),
    ],
)
def test_an_owner_adds_a_field_and_the_page_shows_it(
    client: TestClient,
    world: UiWorld,
    session_factory: sessionmaker[Session],
    lang: str,
    heading: str,
    label: str,
) -> None:
    csrf = _login(client, "owner")
    form = {"csrf_token": csrf, "name.new": "refund_deadline", "instruction.new": f"{REFUND}\r\n"}
    assert _post(client, world, form).status_code == 303
    assert _stored(session_factory, world)["refund_deadline"] == REFUND
    client.cookies.set("deshi_lang", lang)
    page = client.get(f"/admin/processes/{world.process_id}").text
    assert heading in page and label in page
    assert _instruction(page, "refund_deadline") == REFUND


def test_an_emptied_instruction_removes_the_field_and_saves_are_audited(
    client: TestClient, world: UiWorld, session_factory: sessionmaker[Session]
) -> None:
    csrf = _login(client, "owner")
    _post(client, world, {"csrf_token": csrf, "name.new": "card_type", "instruction.new": "Card?"})
    before = _stored(session_factory, world)
    form = {"csrf_token": csrf, "name.0": "card_type", "instruction.0": "", "name.new": ""}
    assert _post(client, world, form).status_code == 303
    assert "card_type" not in _stored(session_factory, world)
    with session_factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "process.update")
        *_, removal = session.scalars(query.order_by(AuditEvent.seq))
    assert removal.before["draft_fields"] == before
    assert "card_type" not in removal.after["draft_fields"]


def test_a_bad_name_re_renders_the_page_with_the_reason(
    client: TestClient, world: UiWorld, session_factory: sessionmaker[Session]
) -> None:
    csrf = _login(client, "owner")
    before = _stored(session_factory, world)
    r = _post(client, world, {"csrf_token": csrf, "name.new": "1 bad", "instruction.new": "x"})
    assert r.status_code == 422 and "is not a field name" in html.unescape(r.text)
    assert _stored(session_factory, world) == before


def test_a_reviewer_may_not_set_fields(client: TestClient, world: UiWorld) -> None:
    csrf = _login(client, "reviewer")
    form = {"csrf_token": csrf, "name.new": "x", "instruction.new": "y"}
    assert _post(client, world, form).status_code == 403


@pytest.fixture
def fielded(ui_db: tuple[str, UiWorld]) -> None:
    """The workbench process has a refund_deadline field and its department the refund guide."""
    url, world = ui_db
    engine = create_db_engine(url)
    with transaction(make_session_factory(engine)) as session:
        process = session.get_one(Process, world.process_id)
        process.draft_fields = {"refund_deadline": REFUND}
        store_documents(
            session,
            actor="test",
            department_id=process.department_id,
            files=[SourceFile("refunds.md", GUIDE.encode())],
            index=KnowledgeIndex(),
        )
    engine.dispose()


def _held_item(client: TestClient, world: UiWorld) -> tuple[str, str, str]:
    """(item id, the item's fragment, the CSRF token) of the item the reviewer holds."""
    csrf = _login(client, "reviewer")
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": csrf}
    ).text
    item = re.search(r'data-item-id="(\d+)"', fragment)
    assert item, fragment
    return item.group(1), fragment, csrf


@pytest.mark.parametrize(
    ("lang", "button", "heading", "editor"),
    [
        ("en", "Fill refund_deadline", "Field refund_deadline", "Your value"),
        ("ja", "refund_deadlineを埋める", "項目 refund_deadline", "あなたの値"),
    ],
)
def test_the_draft_panel_fills_each_field_of_the_process(
    client: TestClient,
    world: UiWorld,
    fielded: None,
    lang: str,
    button: str,
    heading: str,
    editor: str,
) -> None:
    client.cookies.set("deshi_lang", lang)
    item_id, fragment, csrf = _held_item(client, world)
    assert re.search(r'data-action="draft-field" data-field="refund_deadline"', fragment)
    assert button in fragment
    headers = {"X-CSRF-Token": csrf}
    r = client.post(
        f"/ui/items/{item_id}/draft", json={"field": "refund_deadline"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert 'data-draft-field="refund_deadline"' in r.text
    assert heading in r.text and editor in r.text
    reply = client.post(f"/ui/items/{item_id}/draft", headers=headers)
    assert "data-draft-field" not in reply.text  # the reply's button still drafts a reply
    unknown = client.post(f"/ui/items/{item_id}/draft", json={"field": "nope"}, headers=headers)
    assert unknown.status_code == 422


@pytest.mark.browser
def test_a_fields_button_fills_it_in_the_panel(page: Any, world: UiWorld, fielded: None) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email("reviewer"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/processes/{world.process_id}/work")
    page.wait_for_selector("[data-item-id]")
    page.get_by_role("button", name="Fill refund_deadline").click()
    value = page.wait_for_selector("#draft-slot [data-draft-field='refund_deadline']")
    assert "Field refund_deadline" in value.inner_text()
    assert value.query_selector("[data-draft-action='accept']") is not None  # judged as a reply
