"""The workbench never loses or slips, in a real browser: a reload or a detour to the lineage
page gives back the held item, Enter on an empty label search submits nothing, `?` shows the
keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_browser import _login
from ui_world import UiWorld

pytestmark = pytest.mark.browser


def _shown_item(page: Any) -> str:
    page.wait_for_selector("[data-item-id]")
    return str(page.locator("[data-item-id]").get_attribute("data-item-id"))


def test_a_reload_and_the_lineage_page_give_back_the_held_item(page: Any, world: UiWorld) -> None:
    _login(page, "reviewer")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)
    page.reload()
    assert _shown_item(page) == held
    page.locator(".actions a", has_text="Lineage").click()
    page.wait_for_url(f"**/items/{held}")
    page.go_back()
    assert _shown_item(page) == held


def test_enter_on_an_empty_label_search_submits_nothing(page: Any, world: UiWorld) -> None:
    _login(page, "owner")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)
    answers: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: answers.append(json.loads(r.post_data)) if "/answer" in r.url else None,
    )
    page.keyboard.press("/")
    page.keyboard.press("Enter")  # nothing typed: no label is chosen
    assert page.locator("#label-search").evaluate("e => e === document.activeElement")
    wanted = str(page.locator("#label-list button").last.get_attribute("data-label"))
    page.keyboard.type(wanted)
    page.keyboard.press("Enter")
    page.wait_for_function("id => !document.querySelector(`[data-item-id='${id}']`)", arg=held)
    assert [a["label"] for a in answers] == [wanted]  # only the deliberate pick was sent


def test_question_mark_shows_the_keys_and_escape_closes_them(page: Any, world: UiWorld) -> None:
    _login(page, "reviewer")
    page.goto(f"/processes/{world.process_id}/work")
    _shown_item(page)
    help_dialog = page.locator("#keys-help")
    assert not help_dialog.is_visible()
    page.keyboard.press("?")
    help_dialog.wait_for(state="visible")
    assert "Escalate" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    help_dialog.wait_for(state="hidden")
    page.get_by_role("link", name="日本語").click()
    page.wait_for_selector("[data-item-id]")
    page.keyboard.press("?")
    help_dialog.wait_for(state="visible")
    assert "キーボードショートカット" in help_dialog.inner_text()
