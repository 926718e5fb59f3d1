"""The admin's users page marks who still holds a one-time password ("must change password"),
until that person changes it; English and Japanese (issue #22)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import change_own_password, create_first_admin, create_user
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = PasswordHasher("fast-insecure")
ONE_TIME = "one-time password the admin saw"
ADMIN_OWN = "the admin's own password now"


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[TestClient]:
    """Signed in as the first admin (who changed their password), with Hana holding a
    one-time password and Ken having replaced his."""
    url = f"sqlite:///{tmp_path}/users.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        first = create_first_admin(session, email="admin@example.com", password_hasher=CHEAP)
        change_own_password(
            session, user_id=first.user.id, current_password=first.password,
            new_password=ADMIN_OWN, password_hasher=CHEAP,
        )  # fmt: skip
        people = {
            email: create_user(
                session,
                actor="test",
                email=email,
                display_name=email,
                password=ONE_TIME,
                password_hasher=CHEAP,
            )
            for email in ("hana@example.com", "ken@example.com")
        }
        change_own_password(
            session, user_id=people["ken@example.com"].id, current_password=ONE_TIME,
            new_password="Ken's own password now", password_hasher=CHEAP,
        )  # fmt: skip
    engine.dispose()
    settings = Settings(database_url=url, password_hash_profile="fast-insecure")
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
        assert token
        data = {"email": "admin@example.com", "password": ADMIN_OWN, "csrf_token": token[1]}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        yield client


def _row(html: str, email: str) -> str:
    match = re.search(rf'<tr data-user="{re.escape(email)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {email}"
    return match.group(1)


@pytest.mark.parametrize(
    ("lang", "badge"), [("en", "must change password"), ("ja", "パスワード変更が必要")]
)
def test_the_users_page_marks_who_still_holds_a_one_time_password(
    admin: TestClient, lang: str, badge: str
) -> None:
    admin.cookies.set("deshi_lang", lang)
    html = admin.get("/admin/users").text

    hana = _row(html, "hana@example.com")
    assert "data-must-change-password" in hana and badge in hana
    for changed in ("ken@example.com", "admin@example.com"):
        assert "data-must-change-password" not in _row(html, changed)


def test_a_reset_marks_the_person_again(admin: TestClient) -> None:
    html = admin.get("/admin/users").text
    ken_id = re.search(r'action="/admin/users/(\d+)/reset-password"', _row(html, "ken@example.com"))
    assert ken_id
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token
    reset = admin.post(f"/admin/users/{ken_id[1]}/reset-password", data={"csrf_token": token[1]})
    assert reset.status_code == 200, reset.text

    assert "data-must-change-password" in _row(admin.get("/admin/users").text, "ken@example.com")
