"""The UI without a browser: sessions, CSRF, content negotiation, languages and permissions."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.settings import Settings
from deshi.web import create_app


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client: TestClient, who: str) -> str:
    """Sign in through the form; return the new session's CSRF token."""
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return _csrf(client.get("/login?next=/audit", follow_redirects=True).text)


def test_pages_need_a_session(client: TestClient, world: UiWorld) -> None:
    r = client.get(f"/processes/{world.process_id}/work", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/processes/{world.process_id}/work"


def test_login_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"email": UiWorld.email("owner"), "password": PASSWORD})
    assert r.status_code == 403


def test_wrong_password_shows_the_form_again(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login", data={"email": UiWorld.email("owner"), "password": "nope", "csrf_token": token}
    )
    assert r.status_code == 401 and "Wrong email or password." in r.text


def test_session_cookie_is_httponly_and_lax(client: TestClient) -> None:
    cookie = client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_forged_session_cookie_is_ignored(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    payload, _, mac = client.cookies["deshi_session"].partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["u"] = world.user_ids["other_owner"]
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    client.cookies.clear()
    client.cookies.set("deshi_session", f"{forged}.{mac}")
    r = client.get(f"/processes/{world.process_id}", headers={"Accept": "text/html"},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


def _dashboard_status_after_restart(db_url: str, process_id: int) -> int:
    """Sign in on one app, then open a dashboard on a second app (a restart, or another server
    process) with that session cookie; the status it answers (303: sent to the login)."""
    with TestClient(create_app(Settings(database_url=db_url))) as first:
        _login(first, "owner")
        cookie = first.cookies["deshi_session"]
    with TestClient(create_app(Settings(database_url=db_url))) as second:
        second.cookies.set("deshi_session", cookie)
        page = f"/processes/{process_id}"
        return second.get(page, headers={"Accept": "text/html"}, follow_redirects=False).status_code


def test_sessions_outlive_a_restart_with_the_secret_key_setting(
    ui_db: tuple[str, UiWorld], world: UiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESHI_SECRET_KEY", "one long key shared by every server process")
    assert _dashboard_status_after_restart(ui_db[0], world.process_id) == 200


def test_without_a_secret_key_sessions_end_at_restart_with_a_warning(
    ui_db: tuple[str, UiWorld],
    world: UiWorld,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("DESHI_SECRET_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="deshi.web"):
        assert _dashboard_status_after_restart(ui_db[0], world.process_id) == 303
    assert any("DESHI_SECRET_KEY is not set" in r.getMessage() for r in caplog.records)


def test_home_sends_reviewers_to_the_workbench_and_owners_to_the_dashboard(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "reviewer")
    assert client.get("/", follow_redirects=False).headers["location"] == (
        f"/processes/{world.process_id}/work"
    )
    _login(client, "owner")
    assert client.get("/", follow_redirects=False).headers["location"] == (
        f"/processes/{world.process_id}"
    )


def test_browser_gets_the_dashboard_and_the_api_keeps_json(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "owner")
    page = client.get(f"/processes/{world.process_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-kpi="reviews"' in page.text
    api = client.get(f"/processes/{world.process_id}")
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"


def test_workbench_post_without_csrf_is_refused(client: TestClient, world: UiWorld) -> None:
    _login(client, "reviewer")
    r = client.post(f"/ui/processes/{world.process_id}/next")
    assert r.status_code == 403


def test_claim_answer_and_lineage(client: TestClient, world: UiWorld) -> None:
    token = _login(client, "reviewer")
    headers = {"X-CSRF-Token": token}
    fragment = client.post(f"/ui/processes/{world.process_id}/next", headers=headers)
    assert fragment.status_code == 200
    item_id = int(re.search(r'data-item-id="(\d+)"', fragment.text).group(1))  # type: ignore[union-attr]
    label = re.search(r'data-label="([^"]+)"', fragment.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/ui/items/{item_id}/answer",
        json={"action": "correct", "label": label, "seconds": 3.5},
        headers=headers,
    )
    assert r.status_code == 204, r.text
    page = client.get(f"/items/{item_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-status="completed"' in page.text


def test_japanese_item_page_names_its_status_route_and_reason_in_japanese(
    client: TestClient, world: UiWorld
) -> None:
    token = _login(client, "reviewer")
    fragment = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": token}
    )
    item_id = int(re.search(r'data-item-id="(\d+)"', fragment.text).group(1))  # type: ignore[union-attr]
    client.get("/lang/ja?next=/", follow_redirects=False)
    page = client.get(f"/ui/items/{item_id}").text
    facts = dict(re.findall(r'data-(status|route|reason)="[^"]*">([^<]*)<', page))
    assert facts["status"] == "レビュアーが担当中"
    assert facts["route"] in {"人によるレビュー", "ブラインド監査", "自動完了"}
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", facts["reason"]), facts["reason"]
    assert "<h2>レビュー履歴</h2>" in page


def test_auditor_sees_the_workbench_but_cannot_claim(client: TestClient, world: UiWorld) -> None:
    token = _login(client, "auditor")
    page = client.get(f"/processes/{world.process_id}/work")
    assert page.status_code == 200
    r = client.post(f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": token})
    assert r.status_code == 403


def test_other_departments_are_not_found(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    html = {"Accept": "text/html"}
    assert client.get(f"/processes/{world.other_process_id}", headers=html).status_code == 404
    assert client.get(f"/items/{world.other_item_id}", headers=html).status_code == 404
    assert client.get(f"/processes/{world.other_process_id}/work").status_code == 404


def test_audit_log_shows_chain_status_to_auditors_only(client: TestClient) -> None:
    _login(client, "reviewer")
    assert client.get("/audit").status_code == 403
    _login(client, "auditor")
    page = client.get("/audit")
    assert page.status_code == 200 and 'data-chain="ok"' in page.text
    assert client.get("/audit", params={"before": 2**63}).status_code == 422


def test_audit_log_shows_only_the_readers_departments(client: TestClient, world: UiWorld) -> None:
    other_item = f'<a href="/items/{world.other_item_id}">'  # the newest event of the workspace
    _login(client, "auditor")
    assert other_item not in client.get("/audit").text
    client.cookies.clear()
    _login(client, "other_owner")
    page = client.get("/audit").text
    assert other_item in page and f'<a href="/processes/{world.other_process_id}">' in page
    assert f'<a href="/processes/{world.process_id}">' not in page and "users:" not in page
    assert 'data-chain="ok"' in page and 'data-scope="departments"' in page


def test_japanese_by_switch_and_by_accept_language(client: TestClient, world: UiWorld) -> None:
    assert "ログイン" in client.get("/login", headers={"Accept-Language": "ja,en;q=0.5"}).text
    _login(client, "owner")
    client.get("/lang/ja?next=/", follow_redirects=False)
    page = client.get(f"/processes/{world.process_id}", headers={"Accept": "text/html"})
    assert "主要指標" in page.text and 'lang="ja"' in page.text


def test_a_user_without_a_saved_language_gets_the_browsers_after_signing_in(
    client: TestClient, world: UiWorld
) -> None:
    client.headers["Accept-Language"] = "ja-JP,ja;q=0.9,en;q=0.5"
    _login(client, "owner")
    page = client.get(f"/processes/{world.process_id}", headers={"Accept": "text/html"})
    assert 'lang="ja"' in page.text and "主要指標" in page.text
    client.get("/lang/en?next=/", follow_redirects=False)  # the switch still wins
    page = client.get(f"/processes/{world.process_id}", headers={"Accept": "text/html"})
    assert 'lang="en"' in page.text


def _said(page: str) -> dict[str, str]:
    """The dashboard's recommendation reasons and warnings: code → text (badge left out)."""
    items = re.findall(r'<li[^>]* data-code="([^"]+)">(.*?)</li>', page, re.S)
    return {code: re.sub(r"<span.*?</span>", "", text).strip() for code, text in items}


def test_japanese_dashboard_explains_its_recommendation_and_warnings_in_japanese(
    client: TestClient, world: UiWorld
) -> None:
    _login(client, "owner")
    html = {"Accept": "text/html"}
    english = _said(client.get(f"/processes/{world.process_id}", headers=html).text)
    client.get("/lang/ja?next=/", follow_redirects=False)
    japanese = _said(client.get(f"/processes/{world.process_id}", headers=html).text)
    assert japanese.keys() == english.keys() >= {"no_owner", "not_enough_weeks"}
    assert japanese["no_owner"] == "このプロセスにはオーナーがいません。"
    for code, text in japanese.items():
        assert text != english[code] and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), code


def test_open_redirects_are_refused(client: TestClient) -> None:
    r = client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_weekly_report_is_served_to_the_session(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    r = client.get(f"/ui/processes/{world.process_id}/report")
    assert r.status_code == 200 and "<svg" in r.text
    assert '<html lang="en">' in r.text and "<h2>Numbers</h2>" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_weekly_report_is_in_the_viewers_ui_language(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    client.get("/lang/ja?next=/", follow_redirects=False)
    r = client.get(f"/ui/processes/{world.process_id}/report")
    assert r.status_code == 200 and r.headers["content-language"] == "ja"
    assert '<html lang="ja">' in r.text and "の週次レポート</h1>" in r.text
    assert "<h2>数値</h2>" in r.text and "<td>エージェントの正解率</td>" in r.text
    # the warnings are explained in Japanese, as on the dashboard
    assert "このプロセスにはオーナーがいません。" in r.text
    assert "Agent accuracy" not in r.text and "The process has no owner." not in r.text
