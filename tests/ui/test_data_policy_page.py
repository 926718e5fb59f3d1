"""The data-use page states, from the running configuration, what leaves the workspace: with
no model configured nothing is sent to draft; with one, where to and what protects it; and what
webhooks carry. Every signed-in user can read it, in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.local import LocalDrafter
from deshi.drafting.local_model import QWEN_CODER_05B
from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING


def _sign_in(client: TestClient, who: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token
    form = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


@pytest.fixture
def configured(ui_db: tuple[str, UiWorld]) -> Iterator[TestClient]:
    settings = Settings(
        database_url=ui_db[0],
        password_hash_profile=CHEAP_HASHING,
        llm_base_url="http://llm.intranet.example:8080/v1",
        llm_model="qwen2.5-7b-instruct",
        webhook_allow_hosts=("erp.intranet.example", "10.20.0.0/16"),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_without_a_model_nothing_leaves_to_draft(client: TestClient, world: UiWorld) -> None:
    _sign_in(client, "reviewer")
    page = client.get("/data-policy")
    assert page.status_code == 200
    assert 'data-remote="no"' in page.text and "No language model is configured" in page.text
    assert "never its text" in page.text and "internal addresses are refused" in page.text
    work = client.get(f"/processes/{world.process_id}/work").text
    assert 'href="/data-policy"' in work  # reachable from every page


def test_a_configured_model_is_named_with_what_protects_the_data(
    configured: TestClient,
) -> None:
    _sign_in(configured, "auditor")
    page = configured.get("/data-policy").text
    assert 'data-remote="yes"' in page
    assert "qwen2.5-7b-instruct" in page and "http://llm.intranet.example:8080/v1" in page
    assert "MY_NUMBER" in page and "EMAIL" in page
    assert "10.20.0.0/16" in page and "erp.intranet.example" in page


def test_the_page_needs_a_sign_in_and_speaks_japanese(client: TestClient) -> None:
    assert client.get("/data-policy", follow_redirects=False).status_code == 303
    _sign_in(client, "owner")
    client.cookies.set("deshi_lang", "ja")
    page = client.get("/data-policy").text
    assert "このワークスペースから外に出るもの" in page and "What leaves" not in page


def test_the_local_model_is_named_and_nothing_leaves(ui_db: tuple[str, UiWorld]) -> None:
    settings = Settings(database_url=ui_db[0], password_hash_profile=CHEAP_HASHING)
    # Never loaded: the page reads the drafter's configuration, not its model.
    local = LocalDrafter(model_path=Path("never-loaded.gguf"), fallback=ExtractiveDrafter())
    with TestClient(create_app(settings, drafter=local)) as client:
        _sign_in(client, "reviewer")
        page = client.get("/data-policy").text
        client.cookies.set("deshi_lang", "ja")
        japanese = client.get("/data-policy").text
    assert 'data-local="yes"' in page and 'data-remote="no"' in page
    assert f"the local model {QWEN_CODER_05B.name}" in page
    assert "No language model is configured" not in page
    assert f"ローカルモデル {QWEN_CODER_05B.name}" in japanese
