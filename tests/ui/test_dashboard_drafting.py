"""The dashboard's drafting section: "no drafts yet" for a process nobody drafted for, the
drafting KPIs, each linked to its definition, once a reviewer drafted and judged a reply (in
English and Japanese)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from test_workbench_draft import _held_item, _sign_in
from ui_world import UiWorld, add_process

HTML = {"Accept": "text/html"}
LANGS = [
    ("en", "No drafts yet", "Drafted replies"),
    ("ja", "まだ下書きはありません", "返信の下書き"),
]


@pytest.fixture(scope="module")
def undrafted_process(ui_db: tuple[str, UiWorld]) -> int:
    """A process of the owner's department that nobody drafted for."""
    return add_process(*ui_db, "Quiet")


def _dashboard(client: TestClient, process_id: int, lang: str) -> str:
    client.get(f"/lang/{lang}?next=/", follow_redirects=False)
    page = client.get(f"/ui/processes/{process_id}", headers=HTML)
    assert page.status_code == 200
    return page.text


@pytest.mark.parametrize(("lang", "empty", "title"), LANGS)
def test_a_process_without_drafts_says_so(
    client: TestClient, undrafted_process: int, lang: str, empty: str, title: str
) -> None:
    _sign_in(client, "owner")
    page = _dashboard(client, undrafted_process, lang)
    assert 'data-drafts="0"' in page and 'data-no-data="drafting"' in page
    assert title in page and empty in page


def test_a_judged_draft_shows_the_drafting_kpis(client: TestClient, world: UiWorld) -> None:
    _sign_in(client, "reviewer")
    item_id, _, csrf = _held_item(client, world)
    drafted = client.post(f"/ui/items/{item_id}/draft", headers={"X-CSRF-Token": csrf})
    draft_id = re.search(r'data-draft-id="(\d+)"', drafted.text)
    assert draft_id, drafted.text
    url = f"/ui/drafts/{draft_id.group(1)}/verdict"
    assert client.post(url, json={"verdict": "accept"}, headers={"X-CSRF-Token": csrf}).is_success
    client.cookies.clear()
    _sign_in(client, "owner")

    for lang, empty, title in LANGS:
        page = _dashboard(client, world.process_id, lang)
        assert title in page and empty not in page
        for key in (
            "draft_faithfulness",
            "draft_acceptance",
            "draft_edit_distance",
            "draft_consistency",
            "draft_checker_precision",
            "draft_checker_recall",
        ):
            assert f'data-kpi="{key}"' in page and f"/ui/help/metrics#{key}" in page
        assert "data-guardrails" in page and 'data-consistency="' in page
        assert "data-checker" in page

    page = _dashboard(client, world.process_id, "ja")
    assert "回答の一貫性" in page and "チェッカーの適合率" in page and "チェッカーの再現率" in page
