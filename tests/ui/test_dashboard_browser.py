"""The dashboard in a real browser: the verdict with the period it judges, and the help page of
metric definitions one click away."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ui_world import PASSWORD, UiWorld

from deshi.kpis.records import iso_week

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_the_verdict_with_its_period_and_opens_the_help_page(
    page: Any, world: UiWorld
) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email("owner"))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"/processes/{world.process_id}")
    week = iso_week(datetime.now(UTC))
    verdict = page.locator("#rec-title").inner_text()
    assert f"Recommendation for {week} to {week}" in verdict
    assert page.locator("[data-recommendation]").inner_text() in {"scale", "hold", "stop"}
    charts = page.locator(".charts-wide svg")
    assert charts.count() == 5
    grid = page.locator(".chart-grid").bounding_box()
    main = page.locator("main").bounding_box()
    assert grid["width"] > main["width"] - 60  # the charts span the page, not half of it
    first, second = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
    assert second["x"] > first["x"] + first["width"] - 1  # side by side on a wide screen
    page.click("#help-link")
    page.wait_for_url(lambda url: url.endswith("/ui/help/metrics"))
    assert page.locator("h1").inner_text() == "Metric definitions"
    assert page.locator("dt#recommendation").is_visible()
    assert page.locator("dt#auto_error + dd").inner_text().startswith("Share of audited items")
