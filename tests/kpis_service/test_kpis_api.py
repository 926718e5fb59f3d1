"""`GET /processes/{id}/kpis | warnings | report`: numbers match the pure KPI functions on the
same records, the arm filter, permissions, and a self-contained weekly report."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kpi_world import KpiWorld
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import Decision, Item
from deshi.engine import RouteReason
from deshi.engine.metrics import Estimate
from deshi.engine.types import Route
from deshi.kpis import business, flywheel, model_quality, product
from deshi.kpis.budget import budget_evidence
from deshi.kpis.records import Costs, KpiPolicy, by_week, only_arm, weeks_spanned

COSTS = Costs(hourly_rate=3000.0, cost_per_escaped_error=500.0, currency="USD")
POLICY = KpiPolicy(error_budget=0.01, confidence=0.95)


def assert_metric(got: dict[str, Any] | None, expected: Estimate | None) -> None:
    """The API's {value, low, high, n} equals the estimate (None for None)."""
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got["n"] == expected.n
    assert [got["value"], got["low"], got["high"]] == pytest.approx(
        [expected.value, expected.low, expected.high], rel=1e-9, abs=1e-9
    )


def _kpis(client: TestClient, world: KpiWorld, who: str = "owner", **query: str) -> Any:
    response = client.get(f"/processes/{world.process}/kpis", params=query, headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_weekly_kpis_match_the_pure_functions_with_n_and_intervals(
    client: TestClient, world: KpiWorld
) -> None:
    body = _kpis(client, world)
    records = world.records()
    grouped = by_week(records)
    savings = business.weekly_savings(records, COSTS, POLICY)
    reviews = flywheel.reviews_per_week(records)
    assert [week["week"] for week in body["weeks"]] == world.weeks == list(grouped)
    for week in body["weeks"]:
        group = grouped[week["week"]]
        assert week["items"] == len(group)
        assert_metric(week["model"]["accuracy"], model_quality.accuracy(group))
        assert_metric(week["model"]["calibration_error"], model_quality.calibration_error(group))
        assert_metric(week["model"]["auto_error"], model_quality.realized_auto_error(group))
        assert_metric(week["product"]["automation"], product.automation_rate(group))
        assert_metric(week["product"]["acceptance"], product.acceptance_rate(group))
        assert_metric(week["product"]["handling_seconds"], product.handling_time(group))
        week_savings = savings[week["week"]]
        assert week_savings is not None
        assert_metric(week["business"]["net_savings"], week_savings.net)
        assert_metric(week["business"]["hours_saved"], week_savings.hours_saved)
        assert_metric(week["flywheel"]["reviews"], reviews.get(week["week"]))


def test_overall_kpis_match_the_pure_functions(client: TestClient, world: KpiWorld) -> None:
    body = _kpis(client, world)
    records = world.records()
    overall = body["overall"]
    assert overall["items"] == len(records)
    assert_metric(overall["model"]["accuracy"], model_quality.accuracy(records))
    by_arm = product.handling_time_by_arm(records)
    for arm, estimate in by_arm.items():
        assert_metric(overall["product"]["handling_seconds_by_arm"][arm], estimate)
    found = business.overall_savings(records, COSTS, POLICY)
    assert found is not None
    assert_metric(overall["business"]["net_savings"], found.net)
    assert overall["business"]["running_cost"] == 0.0
    assert_metric(
        overall["business"]["baseline_minutes"], business.baseline_minutes_per_item(records)
    )
    assert overall["flywheel"]["active_reviewers"] == 2
    assert overall["flywheel"]["accuracy_gain_per_week"]["value"] == pytest.approx(0.05)
    audits, errors = model_quality.audit_counts(records)
    budget = budget_evidence(audits, errors, budget=0.01, confidence=0.95)
    assert budget is not None
    assert_metric(overall["model"]["auto_error"], budget.estimate)
    assert overall["model"]["budget"]["audits_needed"] == budget.audits_needed


def test_a_running_cost_per_week_is_charged_and_gives_the_roi(
    client: TestClient, world: KpiWorld
) -> None:
    def patch(cost: float) -> None:
        response = client.patch(
            f"/processes/{world.process}",
            json={"running_cost_per_week": cost},
            headers=world.auth("owner"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["running_cost_per_week"] == cost

    records = world.records()
    costs = Costs(
        COSTS.hourly_rate, COSTS.cost_per_escaped_error, "USD", running_cost_per_week=700.0
    )
    patch(700.0)
    try:
        overall = _kpis(client, world)["overall"]
    finally:
        patch(0.0)
    found = business.overall_savings(records, costs, POLICY)
    assert found is not None and found.roi is not None
    assert overall["business"]["running_cost"] == 700.0 * weeks_spanned(records)
    assert_metric(overall["business"]["net_savings"], found.net)
    assert_metric(overall["business"]["roi"], found.roi)


def test_the_recommendation_judges_the_numbers_the_overall_kpis_show(
    client: TestClient, world: KpiWorld
) -> None:
    body = _kpis(client, world)
    overall, recommendation = body["overall"], body["recommendation"]
    period = recommendation["period"]
    assert (period["first_week"], period["last_week"]) == (world.weeks[0], world.weeks[-1])
    assert period["weeks"] == len(world.weeks) and period["partial"] is False
    said = {reason["code"]: reason["params"] for reason in recommendation["reasons"]}
    for code in ("savings_positive", "savings_not_proven", "savings_negative"):
        if code in said:
            bound = "high" if code == "savings_negative" else "low"
            assert said[code][bound] == round(overall["business"]["net_savings"][bound], 2)
            assert said[code]["currency"] == "USD"
    # the world's 5 wrong answers in 16 audits break a 1 % budget: the card says so too
    assert recommendation["action"] == "stop" and overall["model"]["budget"]["broken"]
    broken = said["budget_broken"]
    assert broken["lower_bound"] == round(overall["model"]["auto_error"]["low"], 4) > 0.01
    assert broken["audits"] == overall["model"]["auto_error"]["n"] == 16
    assert broken["errors"] == overall["model"]["budget"]["errors"] == 5
    if "acceptance_met" in said or "acceptance_below_target" in said:
        accepted = said.get("acceptance_met") or said["acceptance_below_target"]
        assert accepted["value"] == round(overall["product"]["acceptance"]["value"], 4)
    if recommendation["action"] == "hold" and not overall["model"]["budget"]["holds"]:
        assert said["audits_needed"]["audits"] == overall["model"]["budget"]["audits_needed"]
    assert body["confidence"] == 0.95 and body["currency"] == "USD"


def test_arm_filter_keeps_one_arm_against_the_pooled_baseline(
    client: TestClient, world: KpiWorld
) -> None:
    body = _kpis(client, world, arm="assisted")
    records = world.records()
    assisted = only_arm(records, "assisted")
    assert body["arm"] == "assisted"
    assert body["overall"]["items"] == len(assisted)
    assert sum(week["items"] for week in body["weeks"]) == len(assisted)
    assert_metric(body["overall"]["product"]["acceptance"], product.acceptance_rate(assisted))
    found = business.savings(assisted, COSTS, weeks=weeks_spanned(assisted), baseline_items=records)
    assert found is not None
    assert_metric(body["overall"]["business"]["hours_saved"], found.hours_saved)
    assert body["overall"]["product"]["automation"]["value"] == 0.0


def test_period_filter_limits_the_weeks(client: TestClient, world: KpiWorld) -> None:
    second = world.weeks[1]
    monday = min(s.created_at for s in world.specs if s.week == second).date()
    body = _kpis(client, world, **{"from": monday.isoformat()})
    assert [week["week"] for week in body["weeks"]] == world.weeks[1:]
    assert body["from"] == monday.isoformat()


@pytest.mark.parametrize("query", [{"arm": "robots"}, {"from": "2026-02-01", "to": "2026-01-01"}])
def test_bad_filters_are_validation_problems(
    client: TestClient, world: KpiWorld, query: dict[str, str]
) -> None:
    response = client.get(
        f"/processes/{world.process}/kpis", params=query, headers=world.auth("owner")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize("path", ["kpis", "warnings", "report?week=2026-W47"])
def test_auditor_reads_and_another_department_gets_404(
    client: TestClient, world: KpiWorld, path: str
) -> None:
    url = f"/processes/{world.process}/{path}"
    assert client.get(url, headers=world.auth("auditor")).status_code == 200
    assert client.get(url, headers=world.auth("reviewer")).status_code == 200
    hidden = client.get(url, headers=world.auth("other_owner"))
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "not_found"
    assert client.get(url).status_code == 401


def test_warnings_list_no_owner_for_an_unowned_process(client: TestClient, world: KpiWorld) -> None:
    orphan = client.get(f"/processes/{world.orphan_process}/warnings", headers=world.auth("owner"))
    assert orphan.status_code == 200
    assert "no_owner" in [warning["code"] for warning in orphan.json()]
    owned = client.get(f"/processes/{world.process}/warnings", headers=world.auth("owner"))
    assert "no_owner" not in [warning["code"] for warning in owned.json()]
    for warning in owned.json():
        assert set(warning) == {"code", "severity", "message", "params"}


def test_a_newest_decision_held_back_by_the_monitor_warns_that_autopilot_is_suspended(
    client: TestClient, world: KpiWorld, session_factory: sessionmaker[Session]
) -> None:
    def codes() -> list[str]:
        url = f"/processes/{world.process}/warnings"
        return [w["code"] for w in client.get(url, headers=world.auth("owner")).json()]

    assert "autopilot_suspended" not in codes()
    newest = (
        select(Decision)
        .join(Item, Item.id == Decision.item_id)
        .where(Item.process_id == world.process)
        .order_by(Decision.id.desc())
        .limit(1)
    )
    with transaction(session_factory) as session:  # the item decided again, held back now
        last = session.scalars(newest).one()
        held = Decision(item_id=last.item_id, label=last.label, confidence=last.confidence,
                        route=Route.REVIEW, reason_code=RouteReason.SUSPENDED)  # fmt: skip
        session.add(held)
    assert "autopilot_suspended" in codes()


def test_weekly_report_is_self_contained_with_charts_and_the_recommendation(
    client: TestClient, world: KpiWorld
) -> None:
    week = world.weeks[-1]
    response = client.get(
        f"/processes/{world.process}/report", params={"week": week}, headers=world.auth("auditor")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "<script" not in html
    assert html.count("<svg") >= 3
    action = _kpis(client, world)["recommendation"]["action"]
    assert f'class="verdict {action}"' in html
    assert f"<strong>{action}</strong>" in html
    assert week in html


def test_weekly_report_rejects_a_bad_week(client: TestClient, world: KpiWorld) -> None:
    response = client.get(
        f"/processes/{world.process}/report",
        params={"week": "2026-47"},
        headers=world.auth("owner"),
    )
    assert response.status_code == 422


def test_a_process_without_items_has_empty_kpis_and_still_a_report(
    client: TestClient, world: KpiWorld
) -> None:
    headers = world.auth("owner")
    body = client.get(f"/processes/{world.orphan_process}/kpis", headers=headers).json()
    assert body["overall"]["items"] == 0 and body["weeks"] == []
    assert body["overall"]["model"]["accuracy"] is None
    assert body["recommendation"]["action"] == "hold"
    page = client.get(
        f"/processes/{world.orphan_process}/report", params={"week": "2026-W01"}, headers=headers
    )
    assert page.status_code == 200
    assert page.text.count("<svg") >= 3


def _report(
    client: TestClient,
    world: KpiWorld,
    *,
    lang: str | None = None,
    accept: str | None = None,
    who: str = "auditor",
) -> Any:
    """The report of the last week for `who`, asked for with `?lang=` and Accept-Language when
    given."""
    params = {"week": world.weeks[-1]} | ({"lang": lang} if lang is not None else {})
    headers = world.auth(who) | ({"Accept-Language": accept} if accept is not None else {})
    return client.get(f"/processes/{world.process}/report", params=params, headers=headers)


def test_weekly_report_in_japanese_with_lang_ja(client: TestClient, world: KpiWorld) -> None:
    english, japanese = _report(client, world), _report(client, world, lang="ja")
    assert japanese.status_code == 200
    assert japanese.headers["content-language"] == "ja"
    html = japanese.text
    assert '<html lang="ja">' in html and "の週次レポート</h1>" in html
    assert "<h2>数値</h2>" in html and "<td>エージェントの正解率</td>" in html
    assert "Agent accuracy" not in html and "Learning curve" not in html
    assert html.count("<svg") == english.text.count("<svg") >= 3
    assert re.search(r"\d{4}/\d{2}/\d{2}～\d{4}/\d{2}/\d{2}。", html)
    assert '<html lang="en">' in english.text and "<h2>Numbers</h2>" in english.text


def test_a_japanese_user_gets_the_japanese_report_without_asking(
    client: TestClient, world: KpiWorld
) -> None:
    response = _report(client, world, who="auditor_ja")
    assert response.status_code == 200
    assert response.headers["content-language"] == "ja"
    assert '<html lang="ja">' in response.text and "<h2>数値</h2>" in response.text


@pytest.mark.parametrize(
    ("who", "lang", "accept", "expected"),
    [
        ("auditor_ja", None, "en-US,en;q=0.9", "ja"),  # the saved language beats the header
        ("auditor_en", None, "ja-JP,ja;q=0.9", "en"),  # a saved "en" beats the header too
        ("auditor", None, "ja-JP,ja;q=0.9", "ja"),  # no saved language: the header decides
        ("auditor", None, None, "en"),
        ("auditor_ja", "en", None, "en"),  # the parameter wins over the saved language
        ("auditor", "ja-JP", "en", "ja"),  # and over the header
        ("auditor_ja", "", "en", "ja"),  # an empty parameter is no parameter
        # without a saved language the product speaks, the header decides, else English
        ("auditor_fr", None, "ja-JP,ja;q=0.9,en;q=0.5", "ja"),
        ("auditor_fr", None, "fr-FR,fr;q=0.9", "en"),
        ("auditor_fr", None, None, "en"),
        ("auditor", "", "ja", "ja"),
    ],
)
def test_weekly_report_language_follows_lang_then_saved_language_then_accept_language(
    client: TestClient,
    world: KpiWorld,
    who: str,
    lang: str | None,
    accept: str | None,
    expected: str,
) -> None:
    response = _report(client, world, lang=lang, accept=accept, who=who)
    assert response.status_code == 200
    assert f'<html lang="{expected}">' in response.text
    assert response.headers["content-language"] == expected
    assert "accept-language" in response.headers["vary"].lower()


@pytest.mark.parametrize("lang", ["fr", "jp", "japanese"])
def test_weekly_report_refuses_an_unknown_lang(
    client: TestClient, world: KpiWorld, lang: str
) -> None:
    response = _report(client, world, lang=lang, accept="ja")
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed" and problem["field"] == "lang"
    assert "en, ja" in problem["detail"]
