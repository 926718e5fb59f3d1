"""The change-your-password page without a browser: linked from the top bar, CSRF-protected,
re-rendered with the reason on a refusal, and after a change the new password signs in, the old
one does not, and the person's other browser sessions are signed out; English and Japanese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"
EMAIL = "admin@example.com"
NEW = "a password only the admin knows"


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[str, str]:
    """A new workspace's database URL and its first admin's one-time password."""
    url = f"sqlite:///{tmp_path}/account.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        first = create_first_admin(session, email=EMAIL, password_hasher=PasswordHasher(CHEAP))
    engine.dispose()
    return url, first.password


def _client(url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, password_hash_profile=CHEAP)))


@pytest.fixture
def browser(workspace: tuple[str, str]) -> Iterator[TestClient]:
    with _client(workspace[0]) as client:
        assert _sign_in(client, workspace[1]) == 303
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(client: TestClient, password: str) -> int:
    token = _csrf(client.get("/login").text)
    data = {"email": EMAIL, "password": password, "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False).status_code


def _change(client: TestClient, current: str, new: str, repeat: str | None = None) -> Response:
    token = _csrf(client.get("/account/password").text)
    data = {
        "current_password": current,
        "new_password": new,
        "repeat_password": new if repeat is None else repeat,
        "csrf_token": token,
    }
    return client.post("/account/password", data=data, follow_redirects=False)


def test_the_top_bar_links_to_the_page(browser: TestClient) -> None:
    assert 'href="/account/password"' in browser.get("/").text


def test_a_banner_asks_to_replace_the_one_time_password_until_it_is_changed(
    browser: TestClient, workspace: tuple[str, str]
) -> None:
    assert "data-one-time-password" in browser.get("/").text
    assert _change(browser, workspace[1], NEW).status_code == 303
    assert "data-one-time-password" not in browser.get("/").text


def test_after_a_change_the_new_password_signs_in_and_the_old_one_fails(
    browser: TestClient, workspace: tuple[str, str]
) -> None:
    url, one_time = workspace
    with _client(url) as elsewhere:
        assert _sign_in(elsewhere, one_time) == 303
        answer = _change(browser, one_time, NEW)
        assert answer.status_code == 303
        notice = browser.get(answer.headers["location"])
        assert "data-changed" in notice.text  # this session stays signed in
        other = elsewhere.get("/account/password", follow_redirects=False)
        assert other.status_code in (303, 307) and "/login" in other.headers["location"]
    browser.post("/logout", data={"csrf_token": _csrf(browser.get("/").text)})
    assert _sign_in(browser, one_time) != 303
    assert _sign_in(browser, NEW) == 303


@pytest.mark.parametrize(
    ("current", "new", "repeat", "status", "reason"),
    [
        ("not the current password", NEW, None, 401, "The current password is wrong."),
        (None, "too short", None, 422, "at least 12 characters"),
        (None, None, None, 422, "must differ from the current one"),
        (None, NEW, "something else entirely", 422, "do not match"),
    ],
    ids=["wrong-current", "too-short", "unchanged", "mismatch"],
)
def test_a_refusal_re_renders_the_form_with_its_reason(
    browser: TestClient,
    workspace: tuple[str, str],
    current: str | None,
    new: str | None,
    repeat: str | None,
    status: int,
    reason: str,
) -> None:
    one_time = workspace[1]
    answer = _change(browser, current or one_time, new or one_time, repeat)
    assert answer.status_code == status
    html = answer.text
    assert reason in html and 'name="current_password"' in html
    assert one_time not in html and NEW not in html


def test_the_form_needs_its_csrf_token(browser: TestClient, workspace: tuple[str, str]) -> None:
    data = {"current_password": workspace[1], "new_password": NEW, "repeat_password": NEW}
    assert browser.post("/account/password", data=data).status_code == 403


@pytest.mark.parametrize(
    ("lang", "labels"),
    [
        ("en", ["Change your password", "Current password", "Repeat the new password"]),
        ("ja", ["パスワードの変更", "現在のパスワード", "新しいパスワード（確認）"]),
    ],
)
def test_the_page_speaks_english_and_japanese(
    browser: TestClient, lang: str, labels: list[str]
) -> None:
    browser.cookies.set("deshi_lang", lang)
    html = browser.get("/account/password").text
    assert all(label in html for label in labels)
    banner = {"en": "You are using a one-time password", "ja": "ワンタイムパスワードでサインイン"}
    assert banner[lang] in browser.get("/").text


def _stand_still(client: TestClient) -> datetime:
    """Stop the app's clock, so the throttle's delays do not run out mid-test."""
    now = utcnow()
    app: Any = client.app
    app.state.clock = lambda: now
    return now


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "Too many wrong passwords. Try again in 1 seconds."),
        ("ja", "パスワードの誤りが多すぎます。1 秒後にもう一度お試しください。"),
    ],
)
def test_wrong_current_passwords_are_throttled_with_a_clear_message(
    browser: TestClient, workspace: tuple[str, str], lang: str, message: str
) -> None:
    _stand_still(browser)
    browser.cookies.set("deshi_lang", lang)
    free = Settings().login_free_failures_per_account
    answers = [_change(browser, f"guess number {n}", NEW).status_code for n in range(free + 1)]
    assert answers == [401] * (free + 1)  # the last failure locks the account for 1 s

    throttled = _change(browser, workspace[1], NEW)  # even the right password waits

    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert message in throttled.text and 'name="current_password"' in throttled.text
    assert workspace[1] not in throttled.text and NEW not in throttled.text


def test_the_change_and_the_sign_in_form_share_the_accounts_allowance(
    browser: TestClient, workspace: tuple[str, str]
) -> None:
    url, one_time = workspace
    now = _stand_still(browser)
    free = Settings().login_free_failures_per_account
    for n in range(free + 1):
        _change(browser, f"guess number {n}", NEW)
    with _client(url) as elsewhere:
        app: Any = elsewhere.app
        app.state.clock = lambda: now
        assert _sign_in(elsewhere, one_time) == 429
