"""The workbench drafts a reply to the held item from its department's documents: citations
link to their passages, the item stays, and `d` does it from the keyboard."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from test_workbench_browser import _shown_item
from ui_world import PASSWORD, UiWorld

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Process
from deshi.drafting.extractive import NOTHING_FOUND
from deshi.drafting.faithfulness import content_tokens
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents

GUIDE = (
    "# Cards\n\nA new card arrives within 5 working days. If a card has not arrived after 7 "
    "days, freeze it in the app and order a replacement card.\n\n# Lost or stolen cards\n\n"
    "Report a lost or stolen card at once: the card is blocked and a new one is sent.\n\n"
    "# Exchange rates\n\nWe exchange money at the daily interbank rate plus 0.5 %.\n"
)


@pytest.fixture(scope="module")
def guide(ui_db: tuple[str, UiWorld]) -> None:
    """The workbench process's department gets a small knowledge base (once per module)."""
    url, world = ui_db
    engine = create_db_engine(url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with transaction(factory) as session:
        process = session.get(Process, world.process_id)
        assert process is not None
        store_documents(
            session,
            actor="test",
            department_id=process.department_id,
            files=[SourceFile("guide.md", GUIDE.encode())],
            index=KnowledgeIndex(),
        )
    engine.dispose()


def _csrf(page_html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', page_html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(client: TestClient, who: str) -> None:
    token = _csrf(client.get("/login").text)
    form = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def _held_item(client: TestClient, world: UiWorld) -> tuple[str, str, str]:
    """(item id, its text, the CSRF token) of the item the signed-in reviewer holds."""
    csrf = _csrf(client.get(f"/processes/{world.process_id}/work").text)
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": csrf}
    ).text
    item = re.search(r'data-item-id="(\d+)"', fragment)
    text = re.search(r'<blockquote class="item-text">(.*?)</blockquote>', fragment, re.S)
    assert item and text, fragment
    return item.group(1), html.unescape(text.group(1)), csrf


def test_a_draft_cites_the_documents_and_links_each_citation(
    client: TestClient, world: UiWorld, guide: None
) -> None:
    _sign_in(client, "reviewer")
    item_id, text, csrf = _held_item(client, world)
    response = client.post(f"/ui/items/{item_id}/draft", headers={"X-CSRF-Token": csrf})

    assert response.status_code == 200
    links = re.findall(r'<a href="(/knowledge/[^"#]+)[^"]*"[^>]*data-citation="\d+"', response.text)
    answerable = bool(set(content_tokens(text)) & set(content_tokens(GUIDE)))
    assert bool(links) == answerable, (text, response.text)
    assert (NOTHING_FOUND in response.text) == (not answerable)
    for url in links:
        assert client.get(url).status_code == 200  # each citation opens its passage


def test_a_draft_needs_the_csrf_token(client: TestClient, world: UiWorld, guide: None) -> None:
    _sign_in(client, "reviewer")
    item_id, _, _ = _held_item(client, world)
    assert client.post(f"/ui/items/{item_id}/draft").status_code == 403


def test_another_departments_owner_cannot_draft_on_the_item(
    client: TestClient, world: UiWorld, guide: None
) -> None:
    _sign_in(client, "reviewer")
    item_id, _, _ = _held_item(client, world)
    client.cookies.clear()
    _sign_in(client, "other_owner")
    csrf = _csrf(client.get("/admin/tokens").text)
    answer = client.post(f"/ui/items/{item_id}/draft", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 404


def test_the_draft_panel_speaks_japanese(client: TestClient, world: UiWorld, guide: None) -> None:
    _sign_in(client, "reviewer")
    client.cookies.set("deshi_lang", "ja")
    item_id, _, csrf = _held_item(client, world)
    panel = client.post(f"/ui/items/{item_id}/draft", headers={"X-CSRF-Token": csrf}).text
    assert "文書の文をそのまま使って下書きしました。" in panel, panel
    for label in ("出典による裏付け", "下書きを採用", "下書きを編集", "下書きを却下"):
        assert label in panel
    assert "Use the draft" not in panel


@pytest.mark.browser
def test_d_drafts_a_reply_and_the_item_stays(page: Any, world: UiWorld, guide: None) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email("reviewer"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)
    page.keyboard.press("d")
    page.wait_for_selector("#draft-slot [data-draft]")
    assert _shown_item(page) == held  # the item stays while the draft shows
    page.keyboard.press("?")
    assert "Draft a reply from the documents" in page.locator("#keys-help").inner_text()
