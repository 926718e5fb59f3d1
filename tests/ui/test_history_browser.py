"""The history upload in a real browser (headless Debian Chromium, real uvicorn): the admin
uploads a CSV, maps its columns from the preview, imports it, reads the summary, and opens the
label-audit queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from history_workspace import CHEAP, HistoryWorkspace, history_csv, make_workspace
from live_server import serve

from deshi.settings import Settings
from deshi.web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, HistoryWorkspace]]:
    workspace = make_workspace(tmp_path)
    app = create_app(Settings(database_url=workspace.url, password_hash_profile=CHEAP))
    with serve(app) as base_url:
        yield base_url, workspace


def test_the_admin_uploads_maps_imports_and_reads_the_summary(
    browser: Any, running: tuple[str, HistoryWorkspace], tmp_path: Path
) -> None:
    base, workspace = running
    upload = tmp_path / "tickets.csv"
    upload.write_bytes(history_csv(per_label=40, flip_every=20))
    context = browser.new_context(base_url=base, locale="en-US")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", workspace.admin_password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"/admin/processes/{workspace.process_id}")
    page.click('[data-links="history"] >> text=Import history')
    page.set_input_files("#history-file", str(upload))
    page.click("text=Read its columns")
    page.wait_for_selector('[data-table="preview"]')
    assert page.locator('[data-table="preview"] tbody tr').count() == 5
    assert page.input_value("#map-text") == "body"
    page.select_option("#map-label", "intent")
    page.select_option("#map-id", "ticket")
    # Hold the first submission in the page, to see what the person sees while it runs.
    page.evaluate(
        "document.querySelector('[data-form=mapping]')"
        ".addEventListener('submit', (e) => e.preventDefault(), {once: true})"
    )
    page.click("button:has-text('Import')")
    assert page.locator("[data-progress]").is_visible()
    # A selector, not wait_for_function: a predicate that must be polled is evaluated by
    # eval() in the page, which the pages' CSP (script-src 'self') refuses.
    page.wait_for_selector("[data-form=mapping] button:disabled")
    with page.expect_navigation():
        page.evaluate("document.querySelector('[data-form=mapping]').submit()")
    page.wait_for_selector("[data-summary]")
    assert page.locator('[data-count="imported"]').inner_text() == "160"
    assert page.locator('[data-count="automation"]').inner_text() != "–"

    page.click("text=Review the label audit")
    page.wait_for_selector('[data-table="flags"]')
    assert page.locator("[data-flag]").count() >= 1
    context.close()
