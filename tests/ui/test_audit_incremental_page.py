"""The audit page verifies incrementally, and says what its "intact" covers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from ui_world import PASSWORD, UiWorld

from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import AuditCheckpoint, AuditEvent


def _login(client: TestClient, who: str) -> None:
    page = client.get("/login").text
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    data = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": match.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def _stored(url: str) -> tuple[int | None, int]:
    """(checkpoint's prefix end, newest event's seq)."""
    engine = create_db_engine(url)
    try:
        with make_session_factory(engine)() as session:
            end = session.scalar(select(AuditCheckpoint.head_seq))
            newest = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
            return end, newest or 0
    finally:
        engine.dispose()


def test_a_second_view_resumes_from_the_verified_prefix(
    client: TestClient, ui_db: tuple[str, UiWorld]
) -> None:
    _login(client, "auditor")
    assert 'data-chain="ok"' in client.get("/audit").text
    end, newest = _stored(ui_db[0])
    assert end == newest and newest > 0
    page = client.get("/audit").text
    assert 'data-chain="ok"' in page and f'data-incremental="{newest}"' in page
    assert "intact since the last full verification" in page


def test_the_note_is_in_japanese(client: TestClient) -> None:
    _login(client, "auditor")
    client.get("/audit")
    client.get("/lang/ja?next=/", follow_redirects=False)
    page = client.get("/audit").text
    assert "前回の完全検証以降は正常" in page
