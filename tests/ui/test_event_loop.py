"""A request that waits for the database never stalls the server.

Blocking database work belongs in the threadpool. Once, the CSRF check (an async dependency)
looked the session up on the event loop: while another request held SQLite's write lock, the
loop waited on it, so the lock's holder could not finish and commit either, and both waited
until busy_timeout failed one with "database is locked" (seen in CI as a workbench page that
never showed its item). Here a test connection holds the write lock while a workbench POST
waits for it; the server must go on answering other requests meanwhile, and the POST must
succeed once the lock is released."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import httpx
from live_server import serve
from ui_world import PASSWORD, UiWorld

from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING

# Long enough that a stalled event loop cannot pass the health check below by waiting the
# lock out: the check's own timeout is far shorter.
BUSY_TIMEOUT_MS = 60_000
HEALTH_TIMEOUT_S = 10.0


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _signed_in(client: httpx.Client, who: str) -> str:
    token = _csrf(client.get("/login").text)
    form = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 303
    return _csrf(client.get("/", follow_redirects=True).text)


def test_a_request_waiting_for_the_write_lock_does_not_stall_the_others(
    ui_db: tuple[str, UiWorld],
) -> None:
    url, world = ui_db
    settings = Settings(
        database_url=url,
        password_hash_profile=CHEAP_HASHING,
        sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS,
    )
    with serve(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as client:
        csrf = _signed_in(client, "reviewer")
        lock = sqlite3.connect(Path(url.removeprefix("sqlite:///")), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the database's write lock, held by the test
        answers: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answers.append(
                client.post(
                    f"/ui/processes/{world.process_id}/next",
                    headers={"X-CSRF-Token": csrf},
                    timeout=BUSY_TIMEOUT_MS / 1000 + 10,
                )
            )
        )
        waiting.start()
        try:
            with httpx.Client(base_url=base_url, timeout=HEALTH_TIMEOUT_S) as other:
                assert other.get("/static/app.css").status_code == 200
                assert other.get("/login").status_code == 200
                assert other.get("/healthz").status_code == 200  # readers go on under WAL
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        waiting.join(timeout=BUSY_TIMEOUT_MS / 1000 + 20)
    assert [a.status_code for a in answers] == [200]
    assert "data-item-id" in answers[0].text
