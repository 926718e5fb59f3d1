"""Web UI sessions that end (sign-out, ending a user's sessions, idle and absolute timeouts on
an injected clock), the Secure cookie flag, and login throttling on the form and on HTTP Basic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.auth.service import issue_api_token
from deshi.auth.sessions import end_sessions
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.settings import Settings
from deshi.web import create_app

HTML = {"Accept": "text/html"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _post_sign_in(client: TestClient, who: str, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form as a browser does (with the form's CSRF token)."""
    token = _csrf(client.get("/login").text)
    form = {"email": UiWorld.email(who), "password": password, "csrf_token": token}
    return client.post("/login", data=form, follow_redirects=False)


def _sign_in(client: TestClient, who: str, password: str = PASSWORD) -> int:
    """The status the sign-in form answered (303 on success)."""
    return _post_sign_in(client, who, password).status_code


def _page(client: TestClient, path: str) -> int:
    return client.get(path, headers=HTML, follow_redirects=False).status_code


def _app(url: str, clock: Clock | None = None, **settings: object) -> FastAPI:
    app = create_app(Settings(database_url=url, **settings))  # type: ignore[arg-type]
    if clock is not None:
        app.state.clock = clock
    return app


@pytest.fixture
def clock() -> Clock:
    """A clock that stands still until the test moves it."""
    return Clock()


@pytest.fixture
def timed(ui_db: tuple[str, UiWorld], clock: Clock) -> Iterator[TestClient]:
    """A client on an app whose sessions run on `clock`."""
    app = _app(ui_db[0], clock, session_idle_minutes=30, session_max_hours=8)
    with TestClient(app, client=("192.0.2.10", 5000)) as test_client:
        yield test_client


def test_the_saved_cookie_is_refused_after_sign_out(
    client: TestClient, ui_db: tuple[str, UiWorld], world: UiWorld
) -> None:
    assert _sign_in(client, "reviewer") == 303
    saved = client.cookies["deshi_session"]
    csrf = _csrf(client.get("/login?next=/audit", follow_redirects=True).text)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 200  # sign-in page
    with TestClient(_app(ui_db[0]), cookies={"deshi_session": saved}) as replay:
        assert _page(replay, f"/processes/{world.process_id}/work") == 303
        claim = replay.post(
            f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": csrf}
        )
        assert claim.status_code in (401, 403) and "data-item-id" not in claim.text


def test_ending_a_users_sessions_signs_out_every_browser(
    ui_db: tuple[str, UiWorld], world: UiWorld
) -> None:
    url = ui_db[0]
    with TestClient(_app(url)) as laptop, TestClient(_app(url)) as phone:
        for browser in (laptop, phone):
            assert _sign_in(browser, "auditor") == 303
            assert _page(browser, "/audit") == 200
        engine = create_db_engine(url)
        with transaction(make_session_factory(engine)) as db:
            assert end_sessions(db, user_id=world.user_ids["auditor"]) >= 2
        engine.dispose()
        assert _page(laptop, "/audit") == 303
        assert _page(phone, "/audit") == 303


def test_sign_out_everywhere_ends_the_users_other_browsers_too(ui_db: tuple[str, UiWorld]) -> None:
    url = ui_db[0]
    with TestClient(_app(url)) as laptop, TestClient(_app(url)) as phone:
        for browser in (laptop, phone):
            assert _sign_in(browser, "owner") == 303
        page = laptop.get("/login?next=/audit", follow_redirects=True).text
        assert "Sign out everywhere" in page
        laptop.post("/logout", data={"csrf_token": _csrf(page), "everywhere": "1"})
        assert _page(laptop, "/audit") == 303
        assert _page(phone, "/audit") == 303


def test_an_idle_session_ends(timed: TestClient, clock: Clock) -> None:
    assert _sign_in(timed, "auditor") == 303
    clock.advance(minutes=29)
    assert _page(timed, "/audit") == 200
    clock.advance(minutes=29)
    assert _page(timed, "/audit") == 200  # a request restarts the idle clock
    clock.advance(minutes=30, seconds=1)
    assert _page(timed, "/audit") == 303


def test_a_busy_session_ends_at_its_absolute_timeout(timed: TestClient, clock: Clock) -> None:
    assert _sign_in(timed, "auditor") == 303
    for _ in range(8 * 3 - 1):
        clock.advance(minutes=20)
        assert _page(timed, "/login") == 303  # signed in: sent on
    clock.advance(minutes=20)
    assert _page(timed, "/audit") == 303
    assert timed.get("/audit", headers=HTML).url.path == "/login"


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [
        ("auto", "http://testserver", False),
        ("auto", "https://testserver", True),
        ("always", "http://testserver", True),
        ("never", "https://testserver", False),
    ],
)
def test_the_secure_flag_follows_the_setting_and_the_scheme(
    ui_db: tuple[str, UiWorld], setting: str, base_url: str, secure: bool
) -> None:
    with TestClient(_app(ui_db[0], secure_cookies=setting), base_url=base_url) as client:
        assert ("Secure" in client.get("/login").headers["set-cookie"]) is secure


def test_the_signed_in_cookie_is_secure_over_https(ui_db: tuple[str, UiWorld]) -> None:
    with TestClient(_app(ui_db[0]), base_url="https://testserver") as client:
        response = _post_sign_in(client, "owner")
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_https_at_a_trusted_proxy_makes_the_cookie_secure(server: str) -> None:
    """A real uvicorn server (as `deshi serve` runs it, trusting 127.0.0.1): the proxy's
    X-Forwarded-Proto decides the scheme."""
    behind_https = httpx.get(f"{server}/login", headers={"X-Forwarded-Proto": "https"})
    plain = httpx.get(f"{server}/login")
    assert "Secure" in behind_https.headers["set-cookie"]
    assert "Secure" not in plain.headers["set-cookie"]


def test_the_form_answers_429_with_retry_after_once_an_account_is_throttled(
    ui_db: tuple[str, UiWorld], clock: Clock
) -> None:
    with TestClient(_app(ui_db[0], clock), client=("192.0.2.20", 5000)) as client:
        for _ in range(6):  # five free failures; the sixth locks the account for 1 s
            assert _sign_in(client, "other_owner", "not the password") == 401
        page = _post_sign_in(client, "other_owner")
    assert page.status_code == 429 and page.headers["retry-after"] == "1"
    assert "text/html" in page.headers["content-type"]
    assert "Too many failed sign-ins. Try again in 1 seconds." in page.text
    assert 'name="password"' in page.text  # the sign-in form, to try again


def test_the_form_is_throttled_per_address_in_japanese_too(
    ui_db: tuple[str, UiWorld], clock: Clock
) -> None:
    headers = {"Accept-Language": "ja"}
    app = _app(ui_db[0], clock)
    with TestClient(app, client=("192.0.2.30", 5000), headers=headers) as client:
        for n in range(21):
            assert _sign_in(client, f"nobody{n}", "not the password") == 401
        page = _post_sign_in(client, "reviewer")
        assert page.status_code == 429 and "サインインの失敗が多すぎます" in page.text
    with TestClient(app, client=("192.0.2.31", 5000)) as elsewhere:
        assert _sign_in(elsewhere, "reviewer") == 303


def test_http_basic_answers_429_problem_json_with_retry_after(
    ui_db: tuple[str, UiWorld], world: UiWorld, clock: Clock
) -> None:
    path = f"/processes/{world.process_id}"
    with TestClient(_app(ui_db[0], clock), client=("192.0.2.40", 5000)) as client:
        wrong = (UiWorld.email("owner"), "not the password")
        for _ in range(6):
            assert client.get(path, auth=wrong).status_code == 401
        refused = client.get(path, auth=(UiWorld.email("owner"), PASSWORD))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    body = refused.json()
    assert body["code"] == "too_many_attempts"
    assert body["retry_after"] == int(refused.headers["retry-after"])


def test_api_tokens_are_never_throttled(
    ui_db: tuple[str, UiWorld], world: UiWorld, clock: Clock
) -> None:
    engine = create_db_engine(ui_db[0])
    with transaction(make_session_factory(engine)) as db:
        owner = world.user_ids["owner"]
        token = issue_api_token(db, actor="user:0", user_id=owner, name="ci").plaintext
    engine.dispose()
    path, wrong = f"/processes/{world.process_id}", (UiWorld.email("owner"), "not the password")
    with TestClient(_app(ui_db[0], clock), client=("192.0.2.50", 5000)) as client:
        for _ in range(21):
            client.get(path, auth=wrong)
        assert client.get(path, auth=(UiWorld.email("owner"), PASSWORD)).status_code == 429
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get(path, headers=bearer).status_code == 200


@pytest.mark.browser
def test_in_a_browser_sign_out_ends_the_session_for_a_copied_cookie(
    browser: Any, server: str
) -> None:
    """Sign in and out in Chromium; a second browser given the cookie saved before signing out
    lands on the sign-in page."""
    first = browser.new_context(base_url=server, locale="en-US")
    page = first.new_page()
    page.goto("/login?next=/audit")
    page.fill("#email", UiWorld.email("auditor"))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/audit")
    saved = first.cookies()
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url("**/login")
    first.close()
    second = browser.new_context(base_url=server, locale="en-US")
    second.add_cookies(saved)
    replay = second.new_page()
    replay.goto("/audit")
    assert "/login" in replay.url and replay.locator("#password").count() == 1
    second.close()
