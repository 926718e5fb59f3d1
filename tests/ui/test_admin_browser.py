"""The first day in a real browser (headless Debian Chromium, real uvicorn): on a new workspace
the admin creates a department and a process and invites a reviewer, who signs in."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.settings import Settings
from deshi.web import create_app

pytestmark = pytest.mark.browser

CHEAP = "fast-insecure"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def new_workspace(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A uvicorn server on a workspace with only its first admin: (base URL, admin password)."""
    url = f"sqlite:///{tmp_path}/first-day.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        password = create_first_admin(
            session, email="admin@example.com", password_hasher=PasswordHasher(CHEAP)
        ).password
    engine.dispose()
    port = _free_port()
    app = create_app(Settings(database_url=url, password_hash_profile=CHEAP))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", password
    server.should_exit = True
    thread.join(timeout=10)


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def test_the_admin_sets_up_a_team_and_the_reviewer_signs_in(
    browser: Any, new_workspace: tuple[str, str]
) -> None:
    base, admin_password = new_workspace
    admin = browser.new_context(base_url=base, locale="en-US")
    admin.set_default_timeout(10_000)
    page = admin.new_page()
    _sign_in(page, "admin@example.com", admin_password)
    assert page.url.endswith("/admin")
    assert page.locator('[data-step="department"]').get_attribute("data-done") == "no"

    page.click('[data-step="department"] a')
    page.fill("#department-name", "Customer care")
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-department="1"]')

    page.goto("/admin/processes")
    page.fill("#process-name", "Inquiry routing")
    page.fill("#process-labels", "refund, complaint, other")
    page.click("text=Create process")
    page.wait_for_url("**/admin/processes/1")
    assert page.input_value("#p-labels") == "refund, complaint, other"

    page.goto("/admin/users")
    page.fill("#user-email", "hana@example.com")
    page.fill("#user-name", "Hana")
    page.select_option("#user-department", label="Customer care")
    page.select_option("#user-role", "reviewer")
    page.click("text=Create user")
    password = page.locator("[data-secret-value]").inner_text()
    assert len(password) >= 12
    admin.close()

    reviewer = browser.new_context(base_url=base, locale="en-US")
    reviewer.set_default_timeout(10_000)
    page = reviewer.new_page()
    _sign_in(page, "hana@example.com", password)
    page.wait_for_url("**/processes/1/work")
    assert "Hana" in page.locator(".who").inner_text()
    reviewer.close()
