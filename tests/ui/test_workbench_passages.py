"""The workbench shows "From the documents" beside the similar cases: each passage with its
document, version, page/section, score and excerpt, linked to the passage on the knowledge
page; the item's lineage page shows the same passages, as first shown, in English and Japanese;
another department sees neither."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_workbench_browser import _shown_item
from test_workbench_draft import _csrf, _sign_in, guide  # noqa: F401 (a fixture)
from ui_world import PASSWORD, UiWorld

PASSAGE_LINK = re.compile(
    r'<a href="(/knowledge/docs/\d+\?version=(\d+)#p-(\d+))"[^>]*data-passage-link>'
)


def _next_fragment(client: TestClient, world: UiWorld) -> tuple[str, str]:
    """(item id, the workbench's fragment) of the item the signed-in reviewer holds."""
    csrf = _csrf(client.get(f"/processes/{world.process_id}/work").text)
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": csrf}
    ).text
    item = re.search(r'data-item-id="(\d+)"', fragment)
    assert item, fragment
    return item.group(1), fragment


def _lineage(client: TestClient, item_id: str) -> Any:
    """The item's lineage page, as a browser navigates to it."""
    return client.get(f"/items/{item_id}", headers={"Accept": "text/html"})


@pytest.mark.usefixtures("guide")
def test_the_workbench_shows_the_passages_and_each_link_opens_its_passage(
    client: TestClient, world: UiWorld
) -> None:
    _sign_in(client, "reviewer")
    _, fragment = _next_fragment(client, world)

    section = fragment[fragment.index("data-passages") :]
    assert "From the documents" in section and "guide.md" in section
    assert "version 1" in section and "score 0." in section
    links = PASSAGE_LINK.findall(fragment)
    assert 1 <= len(links) <= 3, fragment
    for url, _, passage_id in links:
        opened = client.get(url.split("#")[0])
        assert opened.status_code == 200 and f'id="p-{passage_id}"' in opened.text


@pytest.mark.usefixtures("guide")
def test_the_lineage_page_shows_the_passages_the_reviewer_saw_in_japanese_too(
    client: TestClient, world: UiWorld
) -> None:
    _sign_in(client, "reviewer")
    item_id, fragment = _next_fragment(client, world)
    shown = PASSAGE_LINK.findall(fragment)

    lineage = _lineage(client, item_id).text
    assert PASSAGE_LINK.findall(lineage) == shown
    assert "From the documents" in lineage and "kept as they were then" in lineage
    client.get("/lang/ja?next=/", follow_redirects=False)
    japanese = html.unescape(_lineage(client, item_id).text)
    assert "文書から" in japanese and "第1版" in japanese and "その時点の内容のまま" in japanese


@pytest.mark.usefixtures("guide")
def test_another_department_sees_neither_the_lineage_nor_its_passages(
    client: TestClient, world: UiWorld
) -> None:
    _sign_in(client, "reviewer")
    item_id, _ = _next_fragment(client, world)
    client.cookies.clear()
    _sign_in(client, "other_owner")
    refused = _lineage(client, item_id)
    assert refused.status_code == 404 and "guide.md" not in refused.text


@pytest.mark.usefixtures("guide")
@pytest.mark.browser
def test_a_passage_link_in_the_workbench_opens_the_document_at_the_passage(
    page: Any, world: UiWorld
) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email("reviewer"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/processes/{world.process_id}/work")
    held = _shown_item(page)
    link = page.locator("[data-passages] a[data-passage-link]").first
    assert "guide.md" in link.inner_text()
    passage_id = str(link.get_attribute("href")).rsplit("#p-", 1)[1]
    with page.context.expect_page() as opened:
        link.click()
    source = opened.value
    source.wait_for_load_state()
    assert source.url.endswith(f"#p-{passage_id}")
    assert source.locator(f"#p-{passage_id}").is_visible()
    assert _shown_item(page) == held  # the workbench keeps the item
