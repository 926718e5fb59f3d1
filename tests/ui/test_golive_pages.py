"""The go-live check on the pages: beside the mode on the dashboard and the settings page, a
warning without history or when the budget would not hold, the form that queues a new check,
in English and Japanese."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import DriftState
from deshi.history.golive import run_golive
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import create_department, create_process
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"
LABELS = ("billing", "shipping", "returns", "account")


@dataclass
class Site:
    url: str
    admin_password: str
    process_id: int


@pytest.fixture
def site(db_url: str) -> Site:
    engine = create_db_engine(db_url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        first = create_first_admin(
            session, email="admin@example.com", password_hasher=PasswordHasher(CHEAP)
        )
        department = create_department(session, actor="test", name="Support")
        process = create_process(
            session, actor="test", department_id=department.id, name="routing", labels=[]
        )
        process.error_budget = 0.05
        process_id = process.id
    engine.dispose()
    return Site(db_url, first.password, process_id)


@pytest.fixture
def admin(site: Site) -> Iterator[TestClient]:
    settings = Settings(database_url=site.url, password_hash_profile=CHEAP)
    with TestClient(create_app(settings)) as client:
        token = _csrf(client.get("/login").text)
        form = {"email": "admin@example.com", "password": site.admin_password, "csrf_token": token}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def _check(site: Site, *, noise: float) -> None:
    """Import 300 rows whose words give the label away (a share `noise` relabelled), then run
    the check at once."""
    rng = random.Random(0)
    rows = []
    for i in range(300):
        label = LABELS[i % 4]
        text = " ".join([f"{label}{k}" for k in rng.sample(range(8), 4)] + ["please"])
        if rng.random() < noise:
            label = rng.choice([other for other in LABELS if other != label])
        rows.append(HistoryRow(i + 2, text, label, f"h{i}"))
    engine = create_db_engine(site.url)
    factory = make_session_factory(engine)
    import_history(factory, actor="test", process_id=site.process_id, rows=rows,
                   registry=AgentRegistry(), train=False)  # fmt: skip
    run_golive(factory, process_id=site.process_id, actor="test")
    engine.dispose()


def test_without_history_both_pages_warn_before_autopilot(admin: TestClient, site: Site) -> None:
    for path in (f"/ui/processes/{site.process_id}", f"/admin/processes/{site.process_id}"):
        page = admin.get(path).text
        assert 'data-golive-warning="no_history"' in page, path
        assert "past work before switching to autopilot" in page
    admin.cookies.set("deshi_lang", "ja")
    assert "履歴が取り込まれていません" in admin.get(f"/ui/processes/{site.process_id}").text


def test_the_dashboard_shows_the_verdict_in_english_and_japanese(
    admin: TestClient, site: Site
) -> None:
    _check(site, noise=0.0)
    page = admin.get(f"/ui/processes/{site.process_id}").text
    assert re.search(r'data-golive="done" data-verdict="(holds|uncertain)"', page), page
    assert "Would auto-complete " in page and "of the last 60 history items" in page
    assert 'data-golive-warning="budget"' not in page
    admin.cookies.set("deshi_lang", "ja")
    japanese = admin.get(f"/ui/processes/{site.process_id}").text
    assert "直近の履歴 60 件のうち" in japanese and "本番前チェック" in japanese


def test_a_budget_that_would_not_hold_is_a_clear_warning_beside_the_mode_switch(
    admin: TestClient, site: Site
) -> None:
    _check(site, noise=0.25)
    page = admin.get(f"/admin/processes/{site.process_id}").text
    assert re.search(r'data-verdict="(breaks|nothing_automated)"', page)
    assert 'data-golive-warning="budget"' in page
    assert page.index("data-golive") < page.index('id="p-mode"')


def test_the_form_queues_a_check_and_goes_back_to_the_dashboard(
    admin: TestClient, site: Site
) -> None:
    _check(site, noise=0.0)
    dashboard = f"/ui/processes/{site.process_id}"
    token = _csrf(admin.get(dashboard).text)
    r = admin.post(
        f"/admin/processes/{site.process_id}/go-live",
        data={"csrf_token": token, "back": dashboard},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == dashboard
    assert 'data-golive="queued"' in admin.get(dashboard).text
    elsewhere = admin.post(
        f"/admin/processes/{site.process_id}/go-live",
        data={"csrf_token": token, "back": "https://evil.example.com/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == f"/admin/processes/{site.process_id}"


def _drifting(site: Site) -> None:
    engine = create_db_engine(site.url)
    with transaction(make_session_factory(engine)) as session:
        session.add(
            DriftState(
                process_id=site.process_id,
                drifting=True,
                since=utcnow(),
                figures={
                    "live_items": 500,
                    "psi": 0.41,
                    "psi_threshold": 0.25,
                    "novel_share": 0.124,
                    "novel_expected": 0.01,
                    "drifting": True,
                },
                checked_at=utcnow(),
            )
        )
    engine.dispose()


def test_drift_is_a_warning_on_the_dashboard_in_both_languages(
    admin: TestClient, site: Site
) -> None:
    _drifting(site)
    page = admin.get(f"/ui/processes/{site.process_id}").text
    assert 'data-code="input_drift"' in page
    assert "PSI 0.41 (alarm at 0.25), novel inputs 12.4% (history 1.0%)" in page
    admin.cookies.set("deshi_lang", "ja")
    assert (
        "ライブの案件が履歴と似なくなりました" in admin.get(f"/ui/processes/{site.process_id}").text
    )


def test_the_webhooks_page_offers_the_drift_event(admin: TestClient, site: Site) -> None:
    page = admin.get(f"/admin/processes/{site.process_id}/webhooks").text
    assert 'value="process.drift"' in page
