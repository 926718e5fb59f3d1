"""The Administration pages without a browser, on a new workspace: the first-run steps, then
departments, processes and their policy, users and roles, API tokens and model versions; CSRF
on every form, secrets shown once, both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_first_admin
from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import AuditEvent, Process
from deshi.domain import ModelStatus
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.learning.registry import AgentRegistry
from deshi.learning.repo import insert_version
from deshi.settings import Settings
from deshi.web import create_app

CHEAP = "fast-insecure"


@dataclass
class Workspace:
    url: str
    admin_password: str


@pytest.fixture
def workspace(tmp_path: object) -> Workspace:
    """A new workspace: the schema and its first admin, nothing else."""
    url = f"sqlite:///{tmp_path}/admin.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        first = create_first_admin(
            session, email="admin@example.com", password_hasher=PasswordHasher(CHEAP)
        )
    engine.dispose()
    return Workspace(url, first.password)


def _app(workspace: Workspace) -> TestClient:
    return TestClient(create_app(Settings(database_url=workspace.url, password_hash_profile=CHEAP)))


@pytest.fixture
def admin(workspace: Workspace) -> Iterator[TestClient]:
    with _app(workspace) as client:
        _login(client, "admin@example.com", workspace.admin_password)
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client: TestClient, email: str, password: str) -> None:
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _post(client: TestClient, path: str, data: dict[str, str], page: str = "/admin") -> object:
    token = _csrf(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def _secret(html: str) -> str:
    match = re.search(r"<code data-secret-value>([^<]+)</code>", html)
    assert match, "no secret shown"
    return match.group(1)


def _setup(admin: TestClient) -> int:
    """A department and a process made through the pages; the process id."""
    r = _post(admin, "/admin/departments", {"name": "Customer care"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = _post(
        admin,
        "/admin/processes",
        {"department_id": "1", "name": "Inquiry routing", "labels": "refund, complaint"},
    )
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    return int(r.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def test_a_new_workspace_leads_the_admin_through_the_first_steps(admin: TestClient) -> None:
    home = admin.get("/", follow_redirects=True)
    assert home.url.path == "/admin"
    steps = re.findall(r'data-step="(\w+)" data-done="(\w+)"', home.text)
    assert steps == [
        ("department", "no"),
        ("process", "no"),
        ("history", "no"),
        ("reviewers", "no"),
        ("token", "no"),
    ]
    assert "ask an owner" not in home.text.lower()
    _setup(admin)
    done = dict(re.findall(r'data-step="(\w+)" data-done="(\w+)"', admin.get("/admin").text))
    assert done == {
        "department": "yes", "process": "yes", "history": "no", "reviewers": "no", "token": "no",
    }  # fmt: skip


def _history_step_link(html: str) -> str:
    match = re.search(r'data-step="history" data-done="\w+">\s*<a href="([^"]+)"', html)
    assert match, "no history step"
    return match.group(1)


def test_the_history_step_leads_to_the_processs_upload_and_is_done_once_imported(
    admin: TestClient, workspace: Workspace
) -> None:
    assert _history_step_link(admin.get("/admin").text) == "/admin/processes"  # create one first
    process_id = _setup(admin)
    link = _history_step_link(admin.get("/admin").text)
    assert link == f"/admin/processes/{process_id}/history"
    assert admin.get(link).status_code == 200
    engine = create_db_engine(workspace.url)
    rows = [HistoryRow(i + 2, f"text {i} {label}", label, f"h{i}")
            for i, label in enumerate(["refund", "complaint"] * 3)]  # fmt: skip
    import_history(
        make_session_factory(engine), actor="test", process_id=process_id, rows=rows,
        registry=AgentRegistry(), train=False,
    )  # fmt: skip
    engine.dispose()
    done = dict(re.findall(r'data-step="(\w+)" data-done="(\w+)"', admin.get("/admin").text))
    assert done["history"] == "yes"
    admin.cookies.set("deshi_lang", "ja")
    assert "チームの履歴を取り込む" in admin.get("/admin").text


def test_every_form_needs_its_csrf_token(admin: TestClient) -> None:
    for path in ("/admin/departments", "/admin/users", "/admin/tokens", "/admin/processes"):
        assert admin.post(path, data={"name": "x"}).status_code == 403, path


def test_departments_are_created_renamed_and_archived(admin: TestClient) -> None:
    _post(admin, "/admin/departments", {"name": "Finance"})
    _post(admin, "/admin/departments/1/rename", {"name": "Accounts"})
    page = admin.get("/admin/departments").text
    assert "Accounts" in page and 'data-department="1"' in page
    duplicate = _post(admin, "/admin/departments", {"name": "Accounts"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text  # type: ignore[attr-defined]
    assert _post(admin, "/admin/departments/1/archive", {}).status_code == 303  # type: ignore[attr-defined]


def test_the_policy_form_saves_every_field_and_refuses_bad_json(
    admin: TestClient, workspace: Workspace
) -> None:
    process_id = _setup(admin)
    page = f"/admin/processes/{process_id}"
    form = admin.get(page).text
    assert "Inquiry routing" in form and 'name="new_labels"' in form
    saved = _post(
        admin,
        page,
        {
            "name": "Inquiry routing",
            "labels": "refund, complaint, other",
            "mode": "assist",
            "error_budget": "0.02",
            "confidence": "0.9",
            "audit_rate": "0.1",
            "sensitive_labels": "complaint",
            "always_human_rules": '[{"pattern": "lawyer"}]',
            "arms": "",
            "featurizer": "tfidf",
            "new_labels": "owners",
            "human_minutes_per_item": "4",
            "hourly_rate": "30",
            "cost_per_escaped_error": "50",
            "running_cost_per_week": "80",
            "currency": "EUR",
        },
        page,
    )
    assert saved.status_code == 303, saved.text  # type: ignore[attr-defined]
    engine = create_db_engine(workspace.url)
    with make_session_factory(engine)() as session:
        process = session.get(Process, process_id)
        assert process is not None
        assert (process.mode.value, process.error_budget, process.audit_rate) == (
            "assist",
            0.02,
            0.1,
        )
        assert process.always_human_rules == [{"pattern": "lawyer"}]
        assert (process.sensitive_labels, process.currency) == (["complaint"], "EUR")
        assert process.new_labels == "owners"
        assert process.running_cost_per_week == 80.0
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "process.update")
        ).one()
        assert (event.before["mode"], event.after["mode"]) == ("shadow", "assist")
    engine.dispose()
    bad = _post(admin, page, {"always_human_rules": "[not json"}, page)
    assert bad.status_code == 422 and "not JSON" in bad.text  # type: ignore[attr-defined]


def test_an_invited_reviewer_signs_in_with_the_password_shown_once(
    admin: TestClient, workspace: Workspace
) -> None:
    process_id = _setup(admin)
    created = _post(
        admin,
        "/admin/users",
        {
            "email": "hana@example.com",
            "display_name": "Hana",
            "department_id": "1",
            "role": "reviewer",
        },
    )
    assert created.status_code == 201  # type: ignore[attr-defined]
    password = _secret(created.text)  # type: ignore[attr-defined]
    assert password not in admin.get("/admin/users").text  # shown once
    with _app(workspace) as reviewer:
        _login(reviewer, "hana@example.com", password)
        landing = reviewer.get("/", follow_redirects=False)
        assert landing.headers["location"] == f"/processes/{process_id}/work"
        assert reviewer.get("/admin/users").status_code == 403

        _post(admin, "/admin/users/2/deactivate", {})
        assert (
            reviewer.get(f"/processes/{process_id}/work", follow_redirects=False).status_code == 303
        )
        assert 'action="/admin/users/2/reactivate"' in admin.get("/admin/users").text
        assert _post(admin, "/admin/users/2/reactivate", {}).status_code == 303  # type: ignore[attr-defined]
        _login(reviewer, "hana@example.com", password)  # old sessions stay ended: sign in again
        assert reviewer.get(f"/processes/{process_id}/work").status_code == 200


def test_a_service_account_token_is_shown_once_and_works(
    admin: TestClient, workspace: Workspace
) -> None:
    _setup(admin)
    made = _post(admin, "/admin/users", {"email": "crm@example.com", "service": "true"})
    assert made.status_code == 201 and "data-secret" not in made.text  # type: ignore[attr-defined]
    _post(admin, "/admin/users/2/roles", {"role": "owner", "department_id": "1"})
    issued = _post(admin, "/admin/tokens", {"name": "CRM", "user_id": "2"}, "/admin/tokens")
    token = _secret(issued.text)  # type: ignore[attr-defined]
    assert token.startswith("dsh_") and token not in admin.get("/admin/tokens").text
    api = admin.get("/processes", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json()[0]["name"] == "Inquiry routing"
    _post(admin, "/admin/tokens/1/revoke", {}, "/admin/tokens")
    assert admin.get("/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_model_versions_are_listed_and_rolled_back(admin: TestClient, workspace: Workspace) -> None:
    process_id = _setup(admin)
    engine = create_db_engine(workspace.url)
    with transaction(make_session_factory(engine)) as session:
        for version, status in ((1, ModelStatus.RETIRED), (2, ModelStatus.CHAMPION)):
            insert_version(
                session,
                process_id=process_id,
                version=version,
                status=status,
                artifact=b"unused",
                metrics={"holdout": 40},
                threshold=0.9,
                trained_on=20,
            )
    engine.dispose()
    page = f"/admin/processes/{process_id}"
    html = admin.get(page).text
    assert 'data-version="2" data-status="champion"' in html and "holdout" in html
    _post(admin, f"{page}/models/1/rollback", {}, page)
    assert 'data-version="1" data-status="champion"' in admin.get(page).text


def test_the_switcher_lists_processes_and_goes_to_the_chosen_one(admin: TestClient) -> None:
    first = _setup(admin)
    second = _post(admin, "/admin/processes", {"department_id": "1", "name": "Invoices"})
    second_id = int(second.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]
    dashboard = admin.get(f"/processes/{first}", headers={"Accept": "text/html"}).text
    assert 'id="process-switcher"' in dashboard and "Invoices" in dashboard
    r = admin.get(f"/switch?process={second_id}", follow_redirects=False)
    assert r.headers["location"] == f"/processes/{second_id}"


def test_the_administration_pages_speak_japanese(admin: TestClient) -> None:
    admin.cookies.set("deshi_lang", "ja")
    for path, phrase in (
        ("/admin", "部署を作成"),
        ("/admin/departments", "部署"),
        ("/admin/users", "ユーザー"),
        ("/admin/tokens", "API トークン"),
        ("/admin/processes", "プロセス"),
    ):
        page = admin.get(path)
        assert page.status_code == 200 and phrase in page.text, path


def test_a_password_reset_ends_the_users_browser_sessions(
    admin: TestClient, workspace: Workspace
) -> None:
    process_id = _setup(admin)
    made = _post(
        admin,
        "/admin/users",
        {"email": "ken@example.com", "department_id": "1", "role": "reviewer"},
    )
    with _app(workspace) as reviewer:
        _login(reviewer, "ken@example.com", _secret(made.text))  # type: ignore[attr-defined]
        work = f"/processes/{process_id}/work"
        assert reviewer.get(work, follow_redirects=False).status_code == 200
        reset = _post(admin, "/admin/users/2/reset-password", {})
        assert _secret(reset.text) != _secret(made.text)  # type: ignore[attr-defined]
        assert reviewer.get(work, follow_redirects=False).status_code == 303


def test_the_admin_changes_a_users_name_and_language(admin: TestClient) -> None:
    _post(admin, "/admin/users", {"email": "rin@example.com", "display_name": "Rin"})
    saved = _post(admin, "/admin/users/2", {"display_name": "Rin Sato", "locale": "ja"})
    assert saved.status_code == 303  # type: ignore[attr-defined]
    row = admin.get("/admin/users").text.split('data-user="rin@example.com"')[1]
    assert 'value="Rin Sato"' in row and '<option value="ja" selected>' in row
    bad = _post(admin, "/admin/users/2", {"display_name": "Rin", "locale": "fr"})
    assert bad.status_code == 422  # type: ignore[attr-defined]


def test_a_department_admin_without_processes_is_led_to_create_one(
    admin: TestClient, workspace: Workspace
) -> None:
    _post(admin, "/admin/departments", {"name": "Legal"})
    made = _post(
        admin, "/admin/users", {"email": "aya@example.com", "department_id": "1", "role": "admin"}
    )
    with _app(workspace) as department_admin:
        _login(department_admin, "aya@example.com", _secret(made.text))  # type: ignore[attr-defined]
        home = department_admin.get("/")
        assert 'href="/admin/processes"' in home.text and "ask an owner" not in home.text.lower()
        assert department_admin.get("/admin/users").status_code == 403
        page = department_admin.get("/admin/processes").text
        assert 'id="process-department"' in page and "Legal" in page
