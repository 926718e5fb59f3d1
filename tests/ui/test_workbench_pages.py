"""The workbench without a browser: a reload gives back the held item, a skip moves on, the
fragment counts the waiting items and shows labels by a readable name."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from test_pages import _login
from ui_world import UiWorld

from deshi.web.ui.workbench import label_name


def _item_id(html: str) -> int:
    match = re.search(r'data-item-id="(\d+)"', html)
    assert match, "no item in the fragment"
    return int(match.group(1))


def _waiting(html: str) -> int:
    match = re.search(r'data-waiting="(\d+)"', html)
    assert match, "no waiting count in the fragment"
    return int(match.group(1))


def test_a_reload_and_a_lineage_visit_give_back_the_held_item(
    client: TestClient, world: UiWorld
) -> None:
    headers = {"X-CSRF-Token": _login(client, "reviewer")}
    url = f"/ui/processes/{world.process_id}/next"
    held = _item_id(client.post(url, headers=headers).text)
    assert client.get(f"/ui/items/{held}").status_code == 200  # the lineage page
    again = client.post(url, headers=headers).text
    assert _item_id(again) == held
    skipped = client.post(
        f"/ui/processes/{world.process_id}/items/{held}/skip", headers=headers
    ).text
    assert _item_id(skipped) != held  # a skip asks for a fresh item


def test_the_fragment_counts_waiting_items_and_names_labels_readably(
    client: TestClient, world: UiWorld
) -> None:
    headers = {"X-CSRF-Token": _login(client, "owner")}
    url = f"/ui/processes/{world.process_id}/next"
    first = client.post(url, headers=headers).text
    skipped = client.post(
        f"/ui/processes/{world.process_id}/items/{_item_id(first)}/skip", headers=headers
    ).text
    assert _waiting(skipped) == _waiting(first)  # one leased, the skipped one back
    code = re.search(r'data-label="([a-z]+_[a-z_]+)" title="\1">([^<]+)<', skipped)
    assert code, "no label button with a readable name"
    assert code.group(2) == label_name(code.group(1)) and "_" not in code.group(2)


def test_label_name_reads_a_code_as_words() -> None:
    assert label_name("card_not_arrived") == "Card not arrived"
    assert label_name("VAT_refund") == "VAT refund"
    assert label_name("refund") == "Refund"
