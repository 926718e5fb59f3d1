"""The first day through the pages only, in a real browser (headless Debian Chromium, real
uvicorn): from a workspace with nothing but its first admin, the admin follows the first-run
steps (department, process, history upload, reviewer, API token), an item arrives over HTTP
with the token the page issued, and the reviewer signs in with the one-time password the page
showed and clears the item by keyboard. The database then holds the answer and the audit log
holds the admin's changes.

The HTTP twin of this walk is tests/api/test_first_day.py (the guide's CLI commands)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serve
from sqlalchemy import select

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import AuditEvent, Item, Review, User
from deshi.domain import ItemStatus
from deshi.settings import Settings
from deshi.web import create_app

pytestmark = pytest.mark.browser

CHEAP = "fast-insecure"
BANKING77 = (
    Path(__file__).resolve().parents[2] / "src" / "deshi" / "data" / "banking77" / "train.csv"
)
INTENTS = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed")
PER_INTENT = 25  # 100 rows: enough for a warm start, cheap to train
ADMIN_EMAIL = "admin@example.com"
REVIEWER_EMAIL = "hana@example.com"
SERVICE_EMAIL = "crm@example.com"
FIRST_RUN_STEPS = ["department", "process", "history", "reviewers", "token"]
ADMIN_CHANGES = {  # each page the admin used leaves its change in the audit log
    "department.create", "process.create", "history.import", "user.create", "role.grant",
    "api_token.create",
}  # fmt: skip


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A server on a workspace holding only its first admin: (base URL, admin password, DB URL)."""
    url = f"sqlite:///{tmp_path}/first-day.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        password = create_first_admin(
            session, email=ADMIN_EMAIL, password_hasher=PasswordHasher(CHEAP)
        ).password
    engine.dispose()
    with serve(create_app(Settings(database_url=url, password_hash_profile=CHEAP))) as base:
        yield base, password, url


def _write_history(path: Path) -> tuple[str, str]:
    """A labelled history of BANKING77 rows of INTENTS, written to `path`; returns one more
    row of the first intent, kept out of the history to arrive live: (text, label)."""
    taken: dict[str, list[str]] = {intent: [] for intent in INTENTS}
    with BANKING77.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bucket = taken.get(row["category"])
            if bucket is not None and len(bucket) <= PER_INTENT:
                bucket.append(row["text"])
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ticket", "message", "category"])
        n = 0
        for intent, texts in taken.items():
            for text in texts[:PER_INTENT]:
                writer.writerow([f"H-{n}", text, intent])
                n += 1
    return taken[INTENTS[0]][PER_INTENT], INTENTS[0]


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _steps_done(page: Any) -> dict[str, str]:
    steps = page.locator("[data-step]")
    return {
        str(steps.nth(i).get_attribute("data-step")): str(steps.nth(i).get_attribute("data-done"))
        for i in range(steps.count())
    }


def test_the_admin_sets_up_the_team_in_the_browser_and_the_reviewer_clears_an_item(
    browser: Any, workspace: tuple[str, str, str], tmp_path: Path
) -> None:
    base, admin_password, db_url = workspace
    upload = tmp_path / "tickets.csv"
    live_text, live_label = _write_history(upload)
    context = browser.new_context(base_url=base, locale="en-US")
    context.set_default_timeout(30_000)  # the import retrains and audits the labels
    page = context.new_page()

    # 1. The admin lands on the first-run steps, none done yet.
    _sign_in(page, ADMIN_EMAIL, admin_password)
    assert page.url.endswith("/admin")
    assert _steps_done(page) == dict.fromkeys(FIRST_RUN_STEPS, "no")

    # 2. A department, then a process without labels (the history brings them).
    page.click('[data-step="department"] a')
    page.fill("#department-name", "Card support")
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-department]:has-text("Card support")')
    page.goto("/admin")
    page.click('[data-step="process"] a')
    page.select_option("#process-department", label="Card support")
    page.fill("#process-name", "Card inquiries")
    page.click("text=Create process")
    page.wait_for_url(re.compile(r"/admin/processes/\d+$"))
    process_id = int(page.url.rsplit("/", 1)[1])

    # 3. The history: upload, map the columns from the preview, import, read the summary.
    page.goto("/admin")
    page.click('[data-step="history"] a')
    page.wait_for_url(f"**/admin/processes/{process_id}/history")
    page.set_input_files("#history-file", str(upload))
    page.click("text=Read its columns")
    page.wait_for_selector('[data-table="preview"]')
    page.select_option("#map-text", "message")
    page.select_option("#map-label", "category")
    page.select_option("#map-id", "ticket")
    page.click("[data-form=mapping] button[type=submit]")
    page.wait_for_selector("[data-summary]")
    assert page.locator('[data-count="imported"]').inner_text() == str(PER_INTENT * len(INTENTS))
    shown_labels = page.locator('[data-table="labels"] tbody td:first-child').all_inner_texts()
    assert sorted(shown_labels) == sorted(INTENTS)

    # 4. A reviewer: the account (its one-time password is shown once), then the role.
    page.goto("/admin")
    page.click('[data-step="reviewers"] a')
    page.fill("#user-email", REVIEWER_EMAIL)
    page.fill("#user-name", "Hana")
    page.select_option("#user-department", value="")  # no role yet: granted below
    page.click("text=Create user")
    reviewer_password = page.locator("[data-secret-value]").inner_text().strip()
    assert len(reviewer_password) >= 12
    row = page.locator(f'[data-user="{REVIEWER_EMAIL}"]')
    row.locator('select[id^="grant-role-"]').select_option("reviewer")
    row.locator('select[id^="grant-department-"]').select_option(label="Card support")
    with page.expect_navigation():
        row.locator('button:has-text("Grant")').click()
    row = page.locator(f'[data-user="{REVIEWER_EMAIL}"]')
    assert "Card support" in row.locator("ul.labels").inner_text()
    assert page.locator("[data-secret-value]").count() == 0  # shown once, not again

    # 5. The system that sends the items: a service account (no password) with a token.
    page.fill("#user-email", SERVICE_EMAIL)
    page.select_option("#user-department", label="Card support")
    page.select_option("#user-role", "owner")
    page.check('input[name="service"]')
    page.click("text=Create user")
    page.wait_for_selector(f'[data-user="{SERVICE_EMAIL}"]')
    assert page.locator("[data-secret-value]").count() == 0  # a service account: no password
    page.goto("/admin")
    page.click('[data-step="token"] a')
    page.fill("#token-name", "CRM integration")
    page.select_option("#token-owner", label=SERVICE_EMAIL)
    page.click("text=Issue token")
    token = page.locator("[data-secret-value]").inner_text().strip()
    page.goto("/admin")
    assert _steps_done(page) == dict.fromkeys(FIRST_RUN_STEPS, "yes")
    sent = httpx.post(
        f"{base}/processes/{process_id}/items",
        json={"external_id": "LIVE-1", "text": live_text},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "queued"  # a new process starts in shadow: people decide
    item_id = sent.json()["id"]

    # 6. The admin signs out; the reviewer signs in and answers by keyboard.
    page.click("button:has-text('Sign out') >> nth=0")
    page.wait_for_url("**/login**")
    _sign_in(page, REVIEWER_EMAIL, reviewer_password)
    page.wait_for_url(f"**/processes/{process_id}/work")
    assert "Hana" in page.locator(".who").inner_text()
    page.wait_for_selector(f'[data-item-id="{item_id}"]')
    page.keyboard.press("/")
    page.keyboard.type(live_label)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => !document.querySelector(`[data-item-id='${id}']`)", arg=str(item_id)
    )
    page.wait_for_selector("#undo-notice:not([hidden])")
    context.close()

    # 7. The database: the item is done with Hana's label; the log holds the admin's changes.
    engine = create_db_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            item = session.get(Item, item_id)
            assert item is not None and item.status == ItemStatus.COMPLETED
            reviews = session.scalars(select(Review).where(Review.item_id == item_id)).all()
            assert [r.final_label for r in reviews] == [live_label]
            users = {u.email: u.id for u in session.scalars(select(User))}
            assert reviews[0].reviewer_id == users[REVIEWER_EMAIL]
            logged = session.execute(select(AuditEvent.actor, AuditEvent.action)).all()
    finally:
        engine.dispose()
    by_admin = {action for actor, action in logged if actor == f"user:{users[ADMIN_EMAIL]}"}
    assert ADMIN_CHANGES.issubset(by_admin), ADMIN_CHANGES - by_admin
    by_service = {action for actor, action in logged if actor == f"user:{users[SERVICE_EMAIL]}"}
    assert "item.ingest" in by_service  # the item came in on the service account's token
