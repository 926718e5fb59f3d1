"""Drafts sent without review in the web UI: the owner switches it on under "Drafts sent without
review" on the process's settings page, which shows the state of the certification and the
blind audit in English and Japanese; an item's lineage page shows the reply sent for it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_pages import _login
from ui_world import CATEGORIES, UiWorld

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item, Process, StoredDraft


def _settings_form(csrf: str, **fields: str) -> dict[str, str]:
    """The policy form as the page sends it: the name and labels as they are, the box's marker."""
    return {
        "csrf_token": csrf,
        "name": "Card inquiries",
        "labels": ", ".join(CATEGORIES),
        "draft_autosend_shown": "1",
        **fields,
    }


def _autosend(url: str, process_id: int) -> bool:
    engine = create_db_engine(url)
    try:
        with make_session_factory(engine)() as session:
            process = session.get(Process, process_id)
            assert process is not None
            return process.draft_autosend
    finally:
        engine.dispose()


def test_the_owner_switches_sending_without_review_on_and_off(
    client: TestClient, world: UiWorld, ui_db: tuple[str, UiWorld]
) -> None:
    csrf = _login(client, "owner")
    page = client.get(f"/admin/processes/{world.process_id}").text
    assert 'name="draft_autosend"' in page and 'data-autosend-state="off"' in page
    assert "off: drafts are suggestions only" in page

    url = f"/admin/processes/{world.process_id}"
    on = client.post(url, data=_settings_form(csrf, draft_autosend="on"), follow_redirects=False)
    assert on.status_code == 303, on.text
    assert _autosend(ui_db[0], world.process_id)
    page = client.get(url).text
    assert 'data-autosend-state="not_certified"' in page and "checked>" in page

    off = client.post(url, data=_settings_form(csrf), follow_redirects=False)  # box unticked
    assert off.status_code == 303 and not _autosend(ui_db[0], world.process_id)


def test_the_settings_page_explains_it_in_japanese(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    client.cookies.set("deshi_lang", "ja")
    page = client.get(f"/admin/processes/{world.process_id}").text
    assert "レビューなしで送信する下書き" in page and "認定済みの下書きしきい値" in page


@pytest.fixture
def sent_item(ui_db: tuple[str, UiWorld], world: UiWorld) -> int:
    """An item of the process with a reply sent without review."""
    engine = create_db_engine(ui_db[0])
    try:
        with transaction(make_session_factory(engine)) as session:
            item_id = session.scalars(
                select(Item.id).where(Item.process_id == world.process_id).limit(1)
            ).one()
            process = session.get(Process, world.process_id)
            assert process is not None
            session.add(
                StoredDraft(
                    department_id=process.department_id,
                    process_id=process.id,
                    item_id=item_id,
                    drafter="extractive",
                    text="Freeze the card in the app [1].",
                    faithfulness=1.0,
                    has_unsupported_claim=False,
                    created_by="system:autosend",
                    score=0.97,
                    autosend="sent",
                    sent_at=utcnow(),
                )
            )
            return item_id
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("lang", "heading"), [("en", "Reply sent without review"), ("ja", "レビューなしで送信した返信")]
)
def test_the_lineage_page_shows_the_sent_reply(
    client: TestClient, sent_item: int, lang: str, heading: str
) -> None:
    _login(client, "owner")
    client.cookies.set("deshi_lang", lang)
    page = client.get(f"/ui/items/{sent_item}").text
    assert heading in page and "Freeze the card in the app [1]." in page
    assert 'data-section="sent-draft"' in page
