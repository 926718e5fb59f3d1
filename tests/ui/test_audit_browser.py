"""The audit log's filters in a real browser (headless Debian Chromium): choose, search, page,
clear."""

from __future__ import annotations

from typing import Any

import pytest
from ui_world import PASSWORD, UiWorld

pytestmark = pytest.mark.browser


def _login(page: Any, who: str) -> None:
    page.goto("/login?next=/audit")
    page.fill("#email", UiWorld.email(who))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _actions(page: Any) -> set[str]:
    return set(
        page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    )


def test_an_auditor_filters_searches_pages_and_clears(page: Any) -> None:
    _login(page, "auditor")
    page.select_option("#audit-action", "item.review")
    page.fill("#audit-q", "card_arrival")
    page.click("form.audit-filters button[type=submit]")
    page.wait_for_url(lambda url: "action=item.review" in url and "q=card_arrival" in url)
    assert _actions(page) == {"item.review"}
    assert page.locator("#audit-action").input_value() == "item.review"  # the form keeps it
    assert "card_arrival" in page.locator("table.audit").inner_text()
    assert "UTC" in page.locator("table.audit time").first.inner_text()
    export = page.locator('[data-export="jsonl"]').get_attribute("href")
    assert "action=item.review" in export
    page.click("[data-clear]")
    page.wait_for_url(lambda url: url.endswith("/audit"))
    assert len(_actions(page)) > 1
    first = page.locator("tr[data-seq]").first.get_attribute("data-seq")
    page.click('[data-page="older"]')
    page.wait_for_url(lambda url: "before=" in url)
    assert int(page.locator("tr[data-seq]").first.get_attribute("data-seq")) < int(first)


def test_a_period_with_no_events_says_so(page: Any) -> None:
    _login(page, "auditor")
    page.fill("#audit-from", "2001-01-01")
    page.fill("#audit-to", "2001-01-31")
    page.click("form.audit-filters button[type=submit]")
    page.wait_for_selector("[data-empty]")
    assert page.locator("tr[data-seq]").count() == 0
