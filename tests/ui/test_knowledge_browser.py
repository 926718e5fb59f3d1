"""The knowledge base in a real browser (headless Debian Chromium, real uvicorn): an owner
uploads a policy through the file picker, searches it and follows a hit to the document page,
which opens at the cited passage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from knowledge_site import PASSWORD, POLICY, make_site
from live_server import serve

from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING
from knowledge_fakes import fake_index

pytestmark = pytest.mark.browser


@pytest.fixture
def knowledge_server(tmp_path: Path) -> Iterator[str]:
    site = make_site(tmp_path)
    app = create_app(Settings(database_url=site.url, password_hash_profile=CHEAP_HASHING))
    app.state.knowledge = fake_index()
    with serve(app) as base_url:
        yield base_url


def test_upload_search_and_follow_a_hit_to_its_passage(browser: Any, knowledge_server: str) -> None:
    context = browser.new_context(base_url=knowledge_server, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", "owner@example.com")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)

    page.click("text=Knowledge")
    page.wait_for_url("**/knowledge")
    page.set_input_files(
        "#knowledge-file",
        files=[{"name": "refunds.md", "mimeType": "text/markdown", "buffer": POLICY.encode()}],
    )
    page.click("form[action='/knowledge/upload'] button[type=submit]")
    page.wait_for_selector("[data-stored]")

    page.fill("#knowledge-query", "Refunds 14 days")
    page.keyboard.press("Enter")
    hit = page.locator("[data-hits] li").first
    passage_id = hit.get_attribute("data-hit")
    hit.locator("a").click()
    page.wait_for_url(f"**/knowledge/docs/1?version=1#p-{passage_id}")
    target = page.locator(f"#p-{passage_id}")
    assert "Refunds are paid within 14 days." in target.inner_text()
    assert page.evaluate("document.querySelector(':target').id") == f"p-{passage_id}"
    context.close()
