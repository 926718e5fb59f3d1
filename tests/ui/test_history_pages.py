"""The history pages without a browser: upload, map with a preview, import, summary; the
label-audit queue; CSRF, permissions and both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from history_workspace import (
    CHEAP,
    REVIEWER_PASSWORD,
    HistoryWorkspace,
    csrf,
    history_csv,
    login,
    make_workspace,
)
from sqlalchemy import select

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.tables import Item
from deshi.settings import Settings
from deshi.web import create_app


@pytest.fixture
def workspace(tmp_path: Path) -> HistoryWorkspace:
    return make_workspace(tmp_path)


def _client(workspace: HistoryWorkspace) -> TestClient:
    settings = Settings(database_url=workspace.url, password_hash_profile=CHEAP)
    return TestClient(create_app(settings))


@pytest.fixture
def admin(workspace: HistoryWorkspace) -> Iterator[TestClient]:
    with _client(workspace) as client:
        login(client, "admin@example.com", workspace.admin_password)
        yield client


def _page(workspace: HistoryWorkspace) -> str:
    return f"/admin/processes/{workspace.process_id}/history"


def _preview(client: TestClient, workspace: HistoryWorkspace, name: str, data: bytes) -> str:
    token = csrf(client.get(_page(workspace)).text)
    r = client.post(
        f"{_page(workspace)}/preview",
        data={"csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert r.status_code in (200, 422), r.text
    return r.text


def _import(client: TestClient, html: str, workspace: HistoryWorkspace, **mapping: str) -> str:
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token, html
    fields = {"csrf_token": csrf(html), "token": token.group(1), "filename": "history.csv"}
    r = client.post(f"{_page(workspace)}/import", data={**fields, **mapping})
    return r.text


def test_upload_map_preview_import_and_summary(
    admin: TestClient, workspace: HistoryWorkspace
) -> None:
    page = admin.get(_page(workspace))
    assert page.status_code == 200
    assert 'data-form="upload"' in page.text
    assert "takes the labels found in the history" in page.text
    html = _preview(admin, workspace, "history.csv", history_csv())
    assert 'data-table="preview"' in html
    assert re.search(r'<option value="body" selected>body</option>', html)  # guessed text column
    assert re.search(r'<option value="ticket" selected>ticket</option>', html)
    assert html.count("<tr>") >= 5  # the header row and the first rows
    summary = _import(
        admin, html, workspace, text_col="body", label_col="intent", id_col="ticket",
        field_col="ticket",
    )  # fmt: skip
    assert '<dd data-count="imported">120</dd>' in summary
    engine = create_db_engine(workspace.url)
    with transaction(make_session_factory(engine)) as session:
        item = session.scalars(select(Item).where(Item.external_id == "T0")).one()
        assert item.fields == {"ticket": "T0"}
    engine.dispose()
    assert '<dd data-count="rows">120</dd>' in summary
    state = admin.get(_page(workspace)).text
    assert '<dd data-count="items">120</dd>' in state
    settings_page = admin.get(f"/admin/processes/{workspace.process_id}").text
    assert f'href="/admin/processes/{workspace.process_id}/history"' in settings_page


def test_a_missing_column_is_named_and_nothing_is_imported(
    admin: TestClient, workspace: HistoryWorkspace
) -> None:
    html = _preview(admin, workspace, "history.csv", history_csv())
    page = _import(admin, html, workspace, text_col="text", label_col="intent")
    assert "no column &#39;text&#39; in the file" in page
    assert '<dd data-count="items">0</dd>' in page


def test_a_shift_jis_file_says_how_it_was_read(
    admin: TestClient, workspace: HistoryWorkspace
) -> None:
    data = "本文,分類\n請求書の再発行,請求\n住所の変更,変更\n".encode("cp932")
    html = _preview(admin, workspace, "履歴.csv", data)
    assert 'data-encoding="cp932"' in html
    assert "請求書の再発行" in html


def test_a_file_of_another_kind_is_refused_on_the_page(
    admin: TestClient, workspace: HistoryWorkspace
) -> None:
    html = _preview(admin, workspace, "notes.docx", b"x")
    assert "not a history file" in html


def test_the_label_audit_queue_corrects_and_retrains(
    admin: TestClient, workspace: HistoryWorkspace
) -> None:
    html = _preview(admin, workspace, "history.csv", history_csv(per_label=40, flip_every=20))
    _import(admin, html, workspace, text_col="body", label_col="intent", id_col="ticket")
    audit = admin.get(f"{_page(workspace)}/audit")
    flags = re.findall(r'data-flag="(\d+)"', audit.text)
    assert flags, audit.text
    r = admin.post(
        f"{_page(workspace)}/flags/{flags[0]}",
        data={"csrf_token": csrf(audit.text), "action": "correct", "label": "age_limit"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    after = admin.get(f"{_page(workspace)}/audit").text
    assert f'data-flag="{flags[0]}"' not in after
    assert '<dd data-count="corrected">1</dd>' in after
    r = admin.post(f"{_page(workspace)}/retrain", data={"csrf_token": csrf(after)})
    assert r.status_code == 200
    assert "Retrained on the corrected labels." in r.text


def test_the_pages_speak_japanese(admin: TestClient, workspace: HistoryWorkspace) -> None:
    admin.get("/lang/ja")
    assert "履歴の取り込み" in admin.get(_page(workspace)).text
    assert "ラベル監査" in admin.get(f"{_page(workspace)}/audit").text


def test_forms_need_csrf_and_reviewers_cannot_import(workspace: HistoryWorkspace) -> None:
    with _client(workspace) as client:
        login(client, "rev@example.com", REVIEWER_PASSWORD)
        assert client.get(_page(workspace)).status_code == 403
        r = client.post(f"{_page(workspace)}/preview", files={"file": ("a.csv", b"a,b\n")})
        assert r.status_code == 403
