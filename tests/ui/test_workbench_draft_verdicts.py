"""In the workbench a shown draft is judged from the keyboard: `y` uses it, `r` opens it for
editing (Ctrl+Enter saves), `x` rejects it. Each verdict is stored; the item stays held, since
its label still needs an answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_workbench_browser import _shown_item
from test_workbench_draft import _held_item, _sign_in, guide  # noqa: F401 (a fixture)
from ui_world import PASSWORD, UiWorld

from deshi.db import create_db_engine
from deshi.db.tables import DraftVerdict, StoredDraft


def _verdicts(url: str, item_id: str) -> list[tuple[DraftVerdict | None, str | None]]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(StoredDraft.verdict, StoredDraft.final_text)
                .where(StoredDraft.item_id == int(item_id))
                .order_by(StoredDraft.id)
            ).all()
    finally:
        engine.dispose()
    return [(verdict, final) for verdict, final in rows]


def _draft(page: Any) -> None:
    """Press d and wait for a draft that has not been judged."""
    page.keyboard.press("d")
    page.wait_for_selector("#draft-slot [data-draft-id]:not([data-judged])")


@pytest.mark.browser
def test_a_draft_is_used_edited_or_rejected_from_the_keyboard(
    page: Any,
    world: UiWorld,
    ui_db: tuple[str, UiWorld],
    guide: None,  # noqa: F811
) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email("reviewer"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)

    _draft(page)
    page.keyboard.press("y")
    page.wait_for_selector("[data-draft-verdict] [data-verdict=accepted]")

    _draft(page)
    page.keyboard.press("r")
    editor = page.locator("#draft-edit-text")
    editor.wait_for(state="visible")
    assert editor.evaluate("e => document.activeElement === e")
    editor.fill("Thank you. We will look into it.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-draft-verdict] [data-verdict=edited]")

    _draft(page)
    page.keyboard.press("x")
    page.wait_for_selector("[data-draft-verdict] [data-verdict=rejected]")

    page.keyboard.press("?")
    shortcuts = page.locator("#keys-help").inner_text()
    assert "Use the shown draft as it is" in shortcuts and "Reject the shown draft" in shortcuts
    page.keyboard.press("Escape")
    assert _shown_item(page) == held  # a verdict on the draft does not answer the item
    url, _ = ui_db
    stored = _verdicts(url, held)[-3:]
    assert [verdict for verdict, _ in stored] == [
        DraftVerdict.ACCEPTED,
        DraftVerdict.EDITED,
        DraftVerdict.REJECTED,
    ]
    assert stored[0][1]  # the accepted draft's own text is kept as the final one
    assert stored[1][1] == "Thank you. We will look into it." and stored[2][1] is None


def test_the_verdict_route_needs_the_csrf_token_and_renders_the_verdict(
    client: TestClient,
    world: UiWorld,
    guide: None,  # noqa: F811
) -> None:
    _sign_in(client, "reviewer")
    item_id, _, csrf = _held_item(client, world)
    fragment = client.post(f"/ui/items/{item_id}/draft", headers={"X-CSRF-Token": csrf}).text
    found = re.search(r'data-draft-id="(\d+)"', fragment)
    assert found, fragment
    url = f"/ui/drafts/{found.group(1)}/verdict"

    assert client.post(url, json={"verdict": "reject"}).status_code == 403
    answer = client.post(url, json={"verdict": "reject"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and 'data-verdict="rejected"' in answer.text
    again = client.post(url, json={"verdict": "accept"}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409


def test_an_accepted_draft_is_shown_as_a_past_answer_on_the_next_item(
    client: TestClient,
    world: UiWorld,
    guide: None,  # noqa: F811
) -> None:
    _sign_in(client, "reviewer")
    item_id, _, csrf = _held_item(client, world)
    headers = {"X-CSRF-Token": csrf}
    fragment = client.post(f"/ui/items/{item_id}/draft", headers=headers).text
    found = re.search(r'data-draft-id="(\d+)"', fragment)
    assert found, fragment
    verdict = {"verdict": "edit", "text": "We are sorry: your card is on its way."}
    judged = client.post(f"/ui/drafts/{found.group(1)}/verdict", json=verdict, headers=headers)
    assert judged.status_code == 200 and 'data-verdict="edited"' in judged.text
    skip = f"/ui/processes/{world.process_id}/items/{item_id}/skip"
    following = re.search(r'data-item-id="(\d+)"', client.post(skip, headers=headers).text)
    assert following and following.group(1) != item_id

    drafted = client.post(f"/ui/items/{following.group(1)}/draft", headers=headers).text
    assert "A similar past answer" in drafted
    assert "We are sorry: your card is on its way." in drafted
