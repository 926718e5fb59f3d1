"""The UI in a real browser (headless Debian Chromium) against a real uvicorn server."""

from __future__ import annotations

from typing import Any

import pytest
from ui_world import PASSWORD, UiWorld

pytestmark = pytest.mark.browser


def _login(page: Any, who: str) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email(who))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _reviews(page: Any, process_id: int) -> str:
    page.goto(f"/processes/{process_id}")
    return str(page.locator('[data-kpi="reviews"] .card-value').inner_text())


def _answer_by_keyboard(page: Any) -> None:
    """Answer the item on screen with keys only: Enter accepts a suggestion; a blind item is
    answered by searching its first label (`/`, its full code, Enter)."""
    item = page.locator("[data-item-id]")
    item_id = item.get_attribute("data-item-id")
    if item.get_attribute("data-suggested"):
        page.keyboard.press("Enter")
    else:
        label = page.locator("#label-list button").first.get_attribute("data-label")
        page.keyboard.press("/")
        page.keyboard.type(label)
        page.keyboard.press("Enter")
    page.wait_for_function("id => !document.querySelector(`[data-item-id='${id}']`)", arg=item_id)


def test_reviewer_clears_five_items_by_keyboard_and_the_dashboard_counts_them(
    page: Any, world: UiWorld
) -> None:
    _login(page, "owner")
    before = int(_reviews(page, world.process_id).replace(",", ""))
    page.goto(f"/processes/{world.process_id}/work")
    for _ in range(5):
        page.wait_for_selector("[data-item-id]")
        _answer_by_keyboard(page)
    page.wait_for_selector("[data-item-id], [data-empty]")
    after = int(_reviews(page, world.process_id).replace(",", ""))
    assert after == before + 5


def test_suggestion_alternatives_and_evidence_are_shown(page: Any, world: UiWorld) -> None:
    _login(page, "reviewer")
    assert page.url.endswith(f"/processes/{world.process_id}/work")
    page.wait_for_selector("[data-item-id]")
    item = page.locator("[data-item-id]")
    if item.get_attribute("data-blind") == "1":
        assert page.locator(".suggestion, .alternatives, .evidence").count() == 0
    else:
        assert page.locator(".alternatives li").count() >= 1
        assert page.locator(".evidence li").count() >= 1
    page.keyboard.press("/")  # the label search filters as you type
    page.keyboard.type("exchange")
    assert page.locator("#label-list li:visible").count() == 1
    page.keyboard.press("Escape")
    first = item.get_attribute("data-item-id")
    page.keyboard.press("s")  # skip: the next item comes without a page reload
    page.wait_for_function(
        "id => document.querySelector('[data-item-id]')?.dataset.itemId !== id", arg=first
    )


def test_switching_to_japanese(page: Any, world: UiWorld) -> None:
    _login(page, "owner")
    page.goto(f"/processes/{world.process_id}")
    page.get_by_role("link", name="日本語").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_role("heading", name="主要指標").is_visible()


def test_auditor_cannot_submit_a_review(page: Any, world: UiWorld) -> None:
    _login(page, "auditor")
    page.goto(f"/processes/{world.process_id}/work")
    status = page.locator("#workbench-status")
    status.wait_for(state="visible")
    assert "do not allow reviewing" in status.inner_text()
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    r = page.request.post(f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": token})
    assert r.status == 403


def test_another_departments_item_is_not_reachable(page: Any, world: UiWorld) -> None:
    _login(page, "owner")
    response = page.goto(f"/items/{world.other_item_id}")
    assert response.status == 404
    response = page.goto(f"/processes/{world.other_process_id}")
    assert response.status == 404
