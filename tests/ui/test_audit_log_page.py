"""The audit page for an auditor: names, links, what changed, UTC times, filters, keyset pages
and an export that verifies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.audit import AuditKeyring, verify_export


def _login(client: TestClient, who: str) -> None:
    page = client.get("/login").text
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    data = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": match.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]


def test_people_are_named_objects_linked_and_changes_shown(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "auditor")
    page = client.get("/audit", params={"action": "item.review"}).text
    rows = re.findall(r'<tr data-seq="\d+" data-action="([^"]+)"', page)
    assert rows and set(rows) == {"item.review"}
    reviewer = f"user:{world.user_ids['reviewer']}"
    assert f'data-actor="{reviewer}">reviewer</td>' in page  # the name, not the id
    assert '<a href="/items/' in page and "<ins>" in page and "→" in page
    assert re.search(
        r'<time datetime="[^"]+\+00:00">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>', page
    )


def test_period_search_and_actor_filters(client: TestClient, world: UiWorld) -> None:
    _login(client, "auditor")
    today = datetime.now(UTC).date().isoformat()
    assert _seqs(client.get("/audit", params={"from": today, "to": today}).text)
    empty = client.get("/audit", params={"from": "2001-01-01", "to": "2001-01-02"}).text
    assert not _seqs(empty) and "data-empty" in empty and "data-clear" in empty
    by_name = client.get("/audit", params={"actor": "reviewer@example"}).text
    actors = set(re.findall(r'data-actor="([^"]+)"', by_name))
    assert actors == {f"user:{world.user_ids['reviewer']}"}
    found = client.get("/audit", params={"q": "CARD_ARRIVAL", "action": "item.review"}).text
    assert _seqs(found) and "card_arrival" in found
    assert client.get("/audit", params={"from": "yesterday"}).status_code == 422


def test_keyset_pages_cover_the_log_without_overlap(client: TestClient) -> None:
    _login(client, "auditor")
    page = client.get("/audit").text
    first = _seqs(page)
    older = re.search(r'href="(/audit\?before=\d+)" data-page="older"', page)
    assert len(first) == 50 and older, "the seeded world has more than a page of events"
    second_page = client.get(older.group(1)).text
    second = _seqs(second_page)
    assert second and max(second) < min(first)
    newer = re.search(r'href="(/audit\?after=\d+)" data-page="newer"', second_page)
    assert newer and _seqs(client.get(newer.group(1)).text) == first


def test_the_filtered_export_downloads_and_verifies(client: TestClient) -> None:
    _login(client, "auditor")
    page = client.get("/audit", params={"action": "item.review"}).text
    link = re.search(r'href="([^"]+)" download data-export="csv"', page)
    assert link and "action=item.review" in link.group(1)
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    check = verify_export(response.text, keyring=AuditKeyring())
    assert check.ok and check.events >= len(_seqs(page)) > 0
    assert check.proof.filters == {"action": "item.review"}
    assert client.get("/audit/export.xml").status_code in (404, 422)


def test_the_page_is_in_japanese(client: TestClient) -> None:
    _login(client, "auditor")
    client.get("/lang/ja?next=/", follow_redirects=False)
    page = client.get("/audit", params={"action": "item.review"}).text
    assert "案件をレビュー" in page and "日時（UTC）" in page and "絞り込む" in page


def test_a_reviewer_may_not_export(client: TestClient) -> None:
    _login(client, "reviewer")
    assert client.get("/audit/export.csv").status_code == 403
    assert client.get("/audit/export.jsonl", params={"action": "item.review"}).status_code == 403
