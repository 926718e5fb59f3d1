"""Undo in a real browser: answer an item, press `u`, the same item is back, answer it again;
the notice names the answer, and the lineage keeps only the answer that stands."""

from __future__ import annotations

from typing import Any

import pytest
from test_browser import _login
from ui_world import UiWorld

pytestmark = pytest.mark.browser


def _shown_item(page: Any) -> str:
    page.wait_for_selector("[data-item-id]")
    return str(page.locator("[data-item-id]").get_attribute("data-item-id"))


def _pick(page: Any, index: int) -> tuple[str, str]:
    """Answer the shown item with the label at `index` of its list; (code, shown name)."""
    button = page.locator("#label-list button").nth(index)
    code, name = str(button.get_attribute("data-label")), button.inner_text().strip()
    button.click()
    return code, name


def test_u_gives_back_the_answered_item_to_answer_again(page: Any, world: UiWorld) -> None:
    _login(page, "reviewer")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)
    _, first_name = _pick(page, 0)
    notice = page.locator("#undo-notice")
    notice.wait_for(state="visible")
    assert f"Answered item {held} as {first_name}" in notice.inner_text()
    page.wait_for_function("id => !document.querySelector(`[data-item-id='${id}']`)", arg=held)
    page.keyboard.press("u")
    page.wait_for_selector(f"[data-item-id='{held}']")  # the same item is back
    assert notice.is_hidden()
    second_code, second_name = _pick(page, 1)
    notice.wait_for(state="visible")
    assert f"Answered item {held} as {second_name}" in notice.inner_text()
    page.wait_for_function("id => !document.querySelector(`[data-item-id='${id}']`)", arg=held)
    page.goto(f"/items/{held}")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1 and second_name in rows.first.inner_text()
    assert rows.first.locator(f"[title='{second_code}']").count() == 1


def test_the_undo_button_and_the_help_name_the_key_in_japanese(page: Any, world: UiWorld) -> None:
    _login(page, "reviewer")
    page.goto(f"/processes/{world.process_id}/work")
    page.get_by_role("link", name="日本語").click()
    held = _shown_item(page)
    page.keyboard.press("e")  # escalate
    notice = page.locator("#undo-notice")
    notice.wait_for(state="visible")
    assert f"案件 {held}" in notice.inner_text()
    notice.locator("#undo-button").click()
    page.wait_for_selector(f"[data-item-id='{held}']")
    page.keyboard.press("?")
    help_dialog = page.locator("#keys-help")
    help_dialog.wait_for(state="visible")
    assert "取り消" in help_dialog.inner_text()
