"""The webhooks page of a process: an owner adds one (its secret shown once), sees it listed
without the secret and removes it; the API's destination policy and permissions apply; both
languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING


@pytest.fixture
def hooks_client(ui_db: tuple[str, UiWorld]) -> Iterator[TestClient]:
    settings = Settings(
        database_url=ui_db[0],
        password_hash_profile=CHEAP_HASHING,
        webhook_allow_hosts=("127.0.0.1",),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client: TestClient, who: str) -> None:
    token = _csrf(client.get("/login").text)
    form = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def _post(client: TestClient, path: str, data: dict[str, str | list[str]]) -> httpx.Response:
    token = _csrf(client.get("/admin/tokens").text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_an_owner_adds_lists_and_removes_a_webhook(
    hooks_client: TestClient, world: UiWorld
) -> None:
    _login(hooks_client, "owner")
    page = f"/admin/processes/{world.process_id}/webhooks"
    settings = hooks_client.get(f"/admin/processes/{world.process_id}")
    assert f'href="{page}"' in settings.text

    added = _post(
        hooks_client, page, {"url": "http://127.0.0.1:9/hook", "events": ["item.completed"]}
    )
    assert added.status_code == 201
    secret = re.search(r"<code data-secret-value>(whsec_[^<]+)</code>", added.text)
    assert secret, "the secret is shown once"

    listed = hooks_client.get(page)
    assert "http://127.0.0.1:9/hook" in listed.text and "item.completed" in listed.text
    assert secret.group(1) not in listed.text and "data-secret" not in listed.text
    hook_id = re.search(r'data-webhook="(\d+)"', listed.text)
    assert hook_id

    removed = _post(hooks_client, f"{page}/{hook_id.group(1)}/remove", {})
    assert removed.status_code == 303
    assert f'data-webhook="{hook_id.group(1)}"' not in hooks_client.get(page).text


def test_an_internal_address_is_refused_with_the_reason(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    page = f"/admin/processes/{world.process_id}/webhooks"
    refused = _post(client, page, {"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 422
    assert "data-error" in refused.text and "data-secret" not in refused.text
    assert 'value="http://127.0.0.1:9/hook"' in refused.text


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("other_owner", 404)])
def test_only_the_process_owners_see_its_webhooks(
    client: TestClient, world: UiWorld, who: str, status: int
) -> None:
    _login(client, who)
    page = client.get(f"/admin/processes/{world.process_id}/webhooks")
    assert page.status_code == status


def test_the_page_speaks_japanese(client: TestClient, world: UiWorld) -> None:
    _login(client, "owner")
    client.cookies.set("deshi_lang", "ja")
    page = client.get(f"/admin/processes/{world.process_id}/webhooks")
    assert page.status_code == 200
    assert "Webhook を追加" in page.text and "Add a webhook" not in page.text
