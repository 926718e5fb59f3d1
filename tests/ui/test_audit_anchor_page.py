"""The audit log page with an audit key: keying status, and the signed head to download."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.audit import check_anchor, parse_anchor
from deshi.db import create_db_engine, make_session_factory
from deshi.settings import Settings
from deshi.web import create_app

KEY = "ui-audit-key-0123456789abcdef0123456789"


@pytest.fixture
def keyed_client(ui_db: tuple[str, UiWorld]) -> Iterator[TestClient]:
    """A client of the app with an audit key (this module's database only: once keyed, an
    unkeyed app may no longer write to it)."""
    settings = Settings(database_url=ui_db[0], password_hash_profile="fast-insecure", audit_key=KEY)
    with TestClient(create_app(settings)) as client:
        yield client


def _login(client: TestClient, who: str) -> None:
    page = client.get("/login").text
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    data = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": match.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def test_an_auditor_downloads_an_anchor_that_verifies(
    keyed_client: TestClient, ui_db: tuple[str, UiWorld]
) -> None:
    _login(keyed_client, "auditor")
    page = keyed_client.get("/audit").text
    assert 'data-chain="ok"' in page and "data-anchor" in page
    download = keyed_client.get("/audit/anchor.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    anchor = parse_anchor(json.dumps(download.json()))
    engine = create_db_engine(ui_db[0], audit_keys=(KEY.encode(),))
    try:
        with make_session_factory(engine)() as session:
            assert check_anchor(session, anchor).ok
    finally:
        engine.dispose()


def test_the_keying_status_is_shown_in_japanese(keyed_client: TestClient) -> None:
    _login(keyed_client, "auditor")
    keyed_client.get("/lang/ja?next=/", follow_redirects=False)
    page = keyed_client.get("/audit").text
    assert "署名済みの先頭をダウンロード" in page
    assert "鍵付けされていません" in page  # the seeded events predate the key; sign-ins are not
    assert 'data-keyed="no"' in page  # audited, so nothing has been keyed yet


def test_a_reviewer_cannot_download_the_head(keyed_client: TestClient) -> None:
    _login(keyed_client, "reviewer")
    assert keyed_client.get("/audit/anchor.json").status_code == 403
