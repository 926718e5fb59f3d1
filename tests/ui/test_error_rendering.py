"""One renderer, three readers: the same error is problem+json for an API client and for the
workbench script, and an HTML page (or the sign-in redirect) for a person in a browser."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from ui_world import PASSWORD, UiWorld

PROBLEM = "application/problem+json"
NOT_FOUND_PAGE = "Not found: it does not exist or it is not in one of your departments."


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client: TestClient, who: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    token = _csrf(client.get("/login").text)
    form = {"email": UiWorld.email(who), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return _csrf(client.get("/login?next=/audit", follow_redirects=True).text)


def test_not_found_is_problem_json_for_the_api_and_a_page_for_a_browser(
    client: TestClient, world: UiWorld
) -> None:
    path = f"/processes/{world.other_process_id}"
    api = client.get(path, auth=(UiWorld.email("owner"), PASSWORD))
    assert api.status_code == 404 and api.headers["content-type"] == PROBLEM
    assert api.json()["code"] == "not_found" and api.json()["instance"] == path

    _login(client, "owner")
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert NOT_FOUND_PAGE in page.text


def test_the_workbench_script_gets_problem_json_on_a_ui_route(
    client: TestClient, world: UiWorld
) -> None:
    token = _login(client, "owner")
    path = f"/ui/processes/{world.other_process_id}/next"
    fetched = client.post(path, headers={"X-CSRF-Token": token, "Accept": "text/html"})
    assert fetched.status_code == 404 and fetched.headers["content-type"] == PROBLEM
    assert fetched.json()["code"] == "not_found"


def test_a_missing_session_is_a_redirect_for_a_page_and_401_for_the_script(
    client: TestClient, world: UiWorld
) -> None:
    page = client.get(f"/processes/{world.process_id}/work", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=/processes/{world.process_id}/work"

    anonymous = _csrf(client.get("/login").text)  # a session with its CSRF token, no user
    fetched = client.post(
        f"/ui/processes/{world.process_id}/next", headers={"X-CSRF-Token": anonymous}
    )
    assert fetched.status_code == 401 and fetched.headers["content-type"] == PROBLEM
    assert fetched.json() == {
        "type": "urn:deshi:error:unauthenticated",
        "title": "Authentication failed",
        "status": 401,
        "detail": "sign in again",
        "code": "unauthenticated",
        "instance": f"/ui/processes/{world.process_id}/next",
    }
    assert "www-authenticate" not in fetched.headers  # the UI signs in on its page, not by Bearer

    api = client.get(f"/processes/{world.process_id}")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"


def test_a_refused_form_post_is_a_page(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"email": UiWorld.email("owner"), "password": PASSWORD})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "Your roles do not allow this here." in r.text
