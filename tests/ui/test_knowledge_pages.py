"""The Knowledge pages without a browser: upload through the form, search, open a document at a
passage's anchor, remove; reviewers read only, other departments get 404; both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from knowledge_site import PASSWORD, POLICY, Site, make_site

from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING
from knowledge_fakes import fake_index


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """Two departments; an owner and a reviewer in one, an owner in the other."""
    return make_site(tmp_path)


def _client(site: Site, who: str) -> TestClient:
    client = TestClient(
        create_app(Settings(database_url=site.url, password_hash_profile=CHEAP_HASHING))
    )
    client.app.state.knowledge = fake_index()  # type: ignore[attr-defined]
    token = _csrf(client.get("/login").text)
    form = {"email": f"{who}@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def owner(site: Site) -> Iterator[TestClient]:
    with _client(site, "owner") as client:
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _upload(client: TestClient, department: int, name: str, content: bytes) -> object:
    token = _csrf(client.get(f"/knowledge?department_id={department}").text)
    return client.post(
        "/knowledge/upload",
        data={"department_id": str(department), "csrf_token": token},
        files={"file": (name, content)},
        follow_redirects=False,
    )


def test_upload_search_and_open_the_document_at_the_passage(owner: TestClient, site: Site) -> None:
    r = _upload(owner, site.own, "refunds.md", POLICY.encode())
    assert r.status_code == 303  # type: ignore[attr-defined]
    page = owner.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert "data-stored" in page and 'href="/knowledge/docs/1"' in page

    results = owner.get("/knowledge", params={"department_id": site.own, "q": "返金 十四日"}).text
    link = re.search(r'<a href="(/knowledge/docs/1\?version=1#p-(\d+))">refunds.md</a>', results)
    assert link, results
    document = owner.get(link.group(1).split("#")[0]).text
    assert f'id="p-{link.group(2)}"' in document
    assert "返金は十四日以内に支払われます。" in document
    assert 'href="/knowledge/docs/1/versions/1/source"' in document
    assert owner.get("/knowledge/docs/1/versions/1/source").text == POLICY


def test_a_second_upload_is_a_new_version_and_the_old_one_stays_readable(
    owner: TestClient, site: Site
) -> None:
    _upload(owner, site.own, "refunds.md", POLICY.encode())
    _upload(owner, site.own, "refunds.md", b"# Refunds\nRefunds take 30 days.")
    current = owner.get("/knowledge/docs/1").text
    assert "Refunds take 30 days." in current and 'data-version="1"' in current
    old = owner.get("/knowledge/docs/1?version=1").text
    assert "返金は十四日以内に支払われます。" in old and "not the current version" in old


def test_an_unreadable_file_is_refused_on_the_page(owner: TestClient, site: Site) -> None:
    r = _upload(owner, site.own, "scan.png", b"\x89PNG")
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "unsupported file type .png" in r.text  # type: ignore[attr-defined]


def test_remove_takes_the_document_off_the_list(owner: TestClient, site: Site) -> None:
    _upload(owner, site.own, "refunds.md", POLICY.encode())
    token = _csrf(owner.get("/knowledge/docs/1").text)
    r = owner.post("/knowledge/docs/1/remove", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = owner.get(r.headers["location"]).text
    assert "data-removed" in page and 'data-document="1"' not in page
    assert "This document was removed" in owner.get("/knowledge/docs/1").text


def test_reviewers_search_without_upload_and_other_departments_get_404(
    owner: TestClient, site: Site
) -> None:
    _upload(owner, site.own, "refunds.md", POLICY.encode())
    with _client(site, "reviewer") as reviewer:
        page = reviewer.get("/knowledge", params={"q": "refunds"}).text
        assert 'action="/knowledge/upload"' not in page and "data-hit=" in page
        token = _csrf(page)
        refused = reviewer.post("/knowledge/docs/1/remove", data={"csrf_token": token})
        assert refused.status_code == 403
    with _client(site, "other") as outsider:
        assert outsider.get("/knowledge/docs/1").status_code == 404
        assert outsider.get("/knowledge/docs/1/versions/1/source").status_code == 404
        assert outsider.get(f"/knowledge?department_id={site.own}").status_code == 404
        assert "refunds.md" not in outsider.get("/knowledge").text


def test_the_pages_speak_japanese(owner: TestClient, site: Site) -> None:
    _upload(owner, site.own, "refunds.md", POLICY.encode())
    owner.cookies.set("deshi_lang", "ja")  # what the language switch link sets
    page = owner.get("/knowledge", params={"q": "返金"}).text
    assert "<h1>ナレッジ</h1>" in page and "文書" in page and "第1版" in page
    assert "元のファイル" in owner.get("/knowledge/docs/1").text
