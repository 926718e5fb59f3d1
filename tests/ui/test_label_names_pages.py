"""Readable label names in the web UI: an owner names labels per language on the process's
settings page; the workbench and the item's lineage page show the name for the reader's
language, with the code as the tooltip and the value sent back."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from test_pages import _login
from ui_world import CATEGORIES, UiWorld

NAMES = {"en": "Card has not arrived", "ja": "カード未着"}


def _label_names_form(csrf: str, names: dict[str, dict[str, str]]) -> dict[str, str]:
    """The settings page's label names form, every label's fields sent as the page does."""
    form = {"csrf_token": csrf}
    for index, code in enumerate(CATEGORIES):
        form[f"code.{index}"] = code
        for lang in ("en", "ja"):
            form[f"{lang}.{index}"] = names.get(lang, {}).get(code, "")
    return form


@pytest.fixture
def named(client: TestClient, world: UiWorld) -> str:
    """The owner named `card_arrival` in both languages through the settings page; their
    CSRF token."""
    csrf = _login(client, "owner")
    names = {lang: {"card_arrival": name} for lang, name in NAMES.items()}
    r = client.post(
        f"/admin/processes/{world.process_id}/label-names",
        data=_label_names_form(csrf, names),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf


def _card_arrival_button(html: str) -> str:
    match = re.search(r'<button type="button" data-label="card_arrival"[^>]*>([^<]+)<', html)
    assert match, "no card_arrival button in the fragment"
    return match.group(0)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_workbench_shows_the_name_in_the_readers_language(
    client: TestClient, world: UiWorld, named: str, lang: str
) -> None:
    client.cookies.set("deshi_lang", lang)
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": named}
    ).text
    button = _card_arrival_button(fragment)
    assert f">{NAMES[lang]}<" in button and 'title="card_arrival"' in button
    assert "Exchange rate" in fragment  # unnamed labels keep their humanised code


def test_the_settings_page_lists_each_label_with_its_names(
    client: TestClient, world: UiWorld, named: str
) -> None:
    page = client.get(f"/admin/processes/{world.process_id}").text
    row = re.search(r'<tr data-label-code="card_arrival">.*?</tr>', page, re.S)
    assert (
        row
        and f'value="{NAMES["en"]}"' in row.group(0)
        and f'value="{NAMES["ja"]}"' in row.group(0)
    )
    assert "Label names" in page
    client.cookies.set("deshi_lang", "ja")
    assert "ラベルの表示名" in client.get(f"/admin/processes/{world.process_id}").text


def test_an_emptied_name_shows_the_code_again(
    client: TestClient, world: UiWorld, named: str
) -> None:
    only_ja = {"ja": {"card_arrival": NAMES["ja"]}}
    client.post(
        f"/admin/processes/{world.process_id}/label-names",
        data=_label_names_form(named, only_ja),
        follow_redirects=False,
    )
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": named}
    ).text
    assert ">Card arrival<" in _card_arrival_button(fragment)


def test_the_lineage_page_names_labels_with_the_code_as_tooltip(
    client: TestClient, world: UiWorld, named: str
) -> None:
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": named}
    ).text
    item_id = re.search(r'data-item-id="(\d+)"', fragment)
    assert item_id
    client.cookies.set("deshi_lang", "ja")
    page = client.get(f"/ui/items/{item_id.group(1)}").text
    assert re.search(r'title="[a-z_]+">[^<]+</', page), "no label shown by name"
    assert "_" not in "".join(re.findall(r'title="[a-z_]+">([^<]+)</', page))


def test_a_reviewer_may_not_name_labels(client: TestClient, world: UiWorld) -> None:
    csrf = _login(client, "reviewer")
    r = client.post(
        f"/admin/processes/{world.process_id}/label-names",
        data=_label_names_form(csrf, {"en": {"card_arrival": "Nope"}}),
        follow_redirects=False,
    )
    assert r.status_code == 403
