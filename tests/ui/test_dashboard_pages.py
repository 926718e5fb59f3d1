"""The dashboard shows what the weekly report shows, names the period its verdict judges, and
links every number to its definition on the help page (English and Japanese)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from ui_world import PASSWORD, UiWorld, add_process

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Item
from deshi.domain import ItemOrigin, ItemStatus
from deshi.kpis.definitions import DEFINITIONS, definitions
from deshi.kpis.records import iso_week

HTML = {"Accept": "text/html"}


def _login(client: TestClient, who: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"email": UiWorld.email(who), "password": PASSWORD,
              "csrf_token": token.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text


@pytest.fixture(scope="module")
def empty_process(ui_db: tuple[str, UiWorld]) -> int:
    """A process of the owner's department with no item at all."""
    return add_process(*ui_db, "Empty")


@pytest.fixture(scope="module")
def history_only_process(ui_db: tuple[str, UiWorld]) -> int:
    """A process of the owner's department whose only items are 40 imported history rows that
    carry handling times."""
    process_id = add_process(*ui_db, "Imported")
    engine = create_db_engine(ui_db[0])
    with transaction(make_session_factory(engine)) as session:
        session.add_all(
            Item(process_id=process_id, external_id=f"h{i}", text=f"past case {i}",
                 status=ItemStatus.COMPLETED, origin=ItemOrigin.HISTORY.value,
                 history_label="ab"[i % 2], handling_seconds=300.0 + 60.0 * (i % 3))
            for i in range(40)
        )  # fmt: skip
    engine.dispose()
    return process_id


def _dashboard(client: TestClient, process_id: int) -> str:
    response = client.get(f"/processes/{process_id}", headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


def test_the_verdict_names_its_period_and_marks_the_partial_week(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "owner")
    page = _dashboard(client, world.process_id)
    week = iso_week(datetime.now(UTC))
    assert f'data-period="{week}/{week}"' in page
    assert f"Recommendation for {week} to {week} (1 week(s)):" in page
    assert 'data-partial="1"' in page and f"The last week ({week}) is not over yet" in page


def test_the_dashboard_draws_the_weekly_reports_five_charts_at_full_width(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "owner")
    page = _dashboard(client, world.process_id)
    charts = page.split('class="charts charts-wide"')[1]
    assert charts.count("<svg") == 5
    for title in ("Learning curve: agent accuracy per week", "Automation per week",
                  "Audited auto-complete error per week (gaps: no audits)",
                  "Mean human handling time per item, by arm",
                  "Cumulative savings and costs (USD)"):  # fmt: skip
        assert f"<title>{title}</title>" in charts


def test_every_card_links_to_its_definition_with_a_tooltip(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "owner")
    page = _dashboard(client, world.process_id)
    texts = {d.key: d.text for d in definitions("en")}
    keys = re.findall(r'<div class="card" data-kpi="([^"]+)">', page)
    assert keys and set(keys) <= set(texts)
    for key in keys:
        assert f'<a href="/ui/help/metrics#{key}" title="{escape(texts[key])}">' in page
    assert 'href="/ui/help/metrics" id="help-link"' in page
    budget = page.split('data-kpi="auto_error"')[1].split('<div class="card"')[0]
    assert "data-budget=" in budget or "No data yet" in budget


def test_an_empty_process_says_no_data_yet_instead_of_blank_numbers(
    client: TestClient, empty_process: int
) -> None:
    _login(client, "owner")
    page = _dashboard(client, empty_process)
    assert 'data-no-data="charts"' in page and "<svg" not in page
    assert page.count('data-no-data="1"') >= 5  # accuracy, automation, acceptance, error, …
    assert 'data-recommendation="hold"' in page and "No week observed yet" in page


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("en", "Against the handling times of the imported history"),
        ("ja", "取り込んだ履歴の処理時間"),
    ],
)
def test_savings_measured_against_the_imported_history_say_so(
    client: TestClient, history_only_process: int, lang: str, note: str
) -> None:
    _login(client, "owner")
    client.get(f"/lang/{lang}?next=/", follow_redirects=False)
    page = _dashboard(client, history_only_process)
    for card in ("hours_saved", "net_savings"):
        found = re.search(rf'data-note="{card}">([^<]*)<', page)
        assert found is not None and note in found.group(1)


def test_a_process_without_imported_handling_times_has_no_baseline_note(
    client: TestClient, empty_process: int
) -> None:
    _login(client, "owner")
    page = _dashboard(client, empty_process)
    assert 'data-note="hours_saved"' not in page and 'data-note="net_savings"' not in page
    assert 'data-note="roi"' in page  # no running cost set: the card says where to set it


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_help_page_defines_every_metric_in_the_viewers_language(
    client: TestClient, lang: str
) -> None:
    _login(client, "owner")
    client.get(f"/lang/{lang}?next=/", follow_redirects=False)
    response = client.get("/ui/help/metrics")
    assert response.status_code == 200
    page = response.text
    for definition in definitions(lang):
        assert f'<dt id="{definition.key}">{escape(definition.name)}</dt>' in page
        assert f"<dd>{escape(definition.text)}</dd>" in page
    assert len(re.findall(r"<dt id=", page)) == len(DEFINITIONS)


def test_the_help_page_needs_a_session(client: TestClient) -> None:
    response = client.get("/ui/help/metrics", follow_redirects=False)
    assert response.status_code in (303, 401)
