"""Drafting guidance per label on the process's settings page: an owner writes it in a
textarea per label, the page shows it back in English and Japanese, an emptied textarea removes
it, each save is audited as `process.update`, and a refusal re-renders the page with its
reason."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_pages import _login
from ui_world import CATEGORIES, UiWorld

from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import AuditEvent, Process

GUIDANCE = "Apologise once.\nGive the tracking link; never promise a date."


def _guidance_form(csrf: str, guidance: dict[str, str]) -> dict[str, str]:
    """The settings page's guidance form, every label's textarea sent as the page does (a
    browser posts CRLF line breaks)."""
    form = {"csrf_token": csrf}
    for index, code in enumerate(CATEGORIES):
        form[f"code.{index}"] = code
        form[f"guidance.{index}"] = guidance.get(code, "").replace("\n", "\r\n")
    return form


def _post(
    client: TestClient, world: UiWorld, csrf: str, guidance: dict[str, str]
) -> httpx.Response:
    return client.post(
        f"/admin/processes/{world.process_id}/label-guidance",
        data=_guidance_form(csrf, guidance),
        follow_redirects=False,
    )


@pytest.fixture
def session_factory(ui_db: tuple[str, UiWorld]) -> Iterator[sessionmaker[Session]]:
    """Sessions on the module's seeded SQLite file (the UI world is SQLite only)."""
    engine = create_db_engine(ui_db[0])
    yield make_session_factory(engine)
    engine.dispose()


def _stored(factory: sessionmaker[Session], world: UiWorld) -> dict[str, str]:
    with factory() as session:
        process = session.get_one(Process, world.process_id)
        return dict(process.label_guidance)


@pytest.fixture
def guided(client: TestClient, world: UiWorld) -> str:
    """The owner gave `card_arrival` guidance through the settings page; their CSRF token."""
    csrf = _login(client, "owner")
    r = _post(client, world, csrf, {"card_arrival": GUIDANCE})
    assert r.status_code == 303, r.text
    return csrf


def _textarea(page: str, code: str) -> str:
    block = re.search(rf'<div data-guidance-code="{code}">.*?</div>', page, re.S)
    assert block, f"no guidance textarea for {code}"
    content = re.search(r"<textarea[^>]*>(.*?)</textarea>", block.group(0), re.S)
    assert content
    return html.unescape(content.group(1))


@pytest.mark.parametrize(("lang", "heading"), [("en", "Drafting guidance"), ("ja", "下書きの指示")])
def test_the_page_shows_each_labels_guidance(
    client: TestClient,
    world: UiWorld,
    guided: str,
    session_factory: sessionmaker[Session],
    lang: str,
    heading: str,
) -> None:
    assert _stored(session_factory, world) == {"card_arrival": GUIDANCE}  # LF, as the API
    client.cookies.set("deshi_lang", lang)
    page = client.get(f"/admin/processes/{world.process_id}").text
    assert heading in page
    assert _textarea(page, "card_arrival") == GUIDANCE
    assert _textarea(page, "exchange_rate") == ""
    if lang == "ja":
        assert "card_arrival の指示" in page


def test_an_emptied_textarea_removes_it_and_saves_are_audited(
    client: TestClient, world: UiWorld, guided: str, session_factory: sessionmaker[Session]
) -> None:
    _post(client, world, guided, {"exchange_rate": "Quote no rate."})
    assert _stored(session_factory, world) == {"exchange_rate": "Quote no rate."}
    with session_factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "process.update")
        *_, first, second = session.scalars(query.order_by(AuditEvent.seq))
    assert first.after["label_guidance"] == {"card_arrival": GUIDANCE}
    assert second.before["label_guidance"] == {"card_arrival": GUIDANCE}
    assert second.after["label_guidance"] == {"exchange_rate": "Quote no rate."}


def test_too_long_guidance_re_renders_the_page_with_the_reason(
    client: TestClient, world: UiWorld, guided: str, session_factory: sessionmaker[Session]
) -> None:
    r = _post(client, world, guided, {"card_arrival": "x" * 2001})
    assert r.status_code == 422
    assert "label_guidance" in r.text
    assert _stored(session_factory, world) == {"card_arrival": GUIDANCE}


def test_a_reviewer_may_not_set_guidance(client: TestClient, world: UiWorld) -> None:
    csrf = _login(client, "reviewer")
    r = _post(client, world, csrf, {"card_arrival": "Nope"})
    assert r.status_code == 403
