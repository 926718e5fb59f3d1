"""The workbench's undo without a browser: the undo route renders the same item again, held by
the reviewer; a second undo has nothing left to take back; the audit log names the undo in both
languages, and the withdrawn review's events still render."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from test_pages import _login
from ui_world import UiWorld


def _item_id(html: str) -> int:
    match = re.search(r'data-item-id="(\d+)"', html)
    assert match, "no item in the fragment"
    return int(match.group(1))


def test_undo_renders_the_answered_item_again(client: TestClient, world: UiWorld) -> None:
    headers = {"X-CSRF-Token": _login(client, "reviewer")}
    held = _item_id(client.post(f"/ui/processes/{world.process_id}/next", headers=headers).text)
    answer = {"action": "correct", "label": "exchange_rate"}
    assert client.post(f"/ui/items/{held}/answer", json=answer, headers=headers).status_code == 204
    undone = client.post(f"/ui/items/{held}/undo", headers=headers)
    assert undone.status_code == 200 and _item_id(undone.text) == held
    again = client.post(f"/ui/items/{held}/undo", headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert client.post(f"/ui/items/{held}/undo").status_code == 403  # no CSRF token

    _login(client, "auditor")
    page = client.get("/audit", params={"action": "review.undo"})
    assert page.status_code == 200 and "answer undone by its reviewer" in page.text
    assert client.get("/audit", params={"action": "item.review"}).status_code == 200
    client.cookies.set("deshi_lang", "ja")
    assert "回答者が回答を取り消し" in client.get("/audit", params={"action": "review.undo"}).text
