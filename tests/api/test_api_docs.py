"""The OpenAPI document describes every error, and its pages are served from the package to
signed-in callers only (unless DESHI_PUBLIC_API_DOCS opens them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs  # schemathesis' validator (the dev extra)
import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from deshi.settings import Settings
from deshi.web import create_app

DOC_PATHS = ["/openapi.json", "/docs", "/redoc"]
PROBLEM_JSON = "application/problem+json"


def _document(client: TestClient, world: World) -> dict[str, Any]:
    r = client.get("/openapi.json", headers=world.auth("auditor"))
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_doc_pages_send_an_anonymous_visitor_to_sign_in(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("accept", [None, "application/json", "text/html"])
def test_the_document_refuses_an_anonymous_program_with_a_problem(
    client: TestClient, accept: str | None
) -> None:
    """A program fetching the document gets a 401 it can read, not a sign-in page."""
    headers = {"Accept": accept} if accept else {}
    r = client.get("/openapi.json", headers=headers, follow_redirects=False)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["instance"] == "/openapi.json"


def test_every_operation_documents_the_database_outage(client: TestClient, world: World) -> None:
    for method, path, operation in _operations(_document(client, world)):
        assert "503" in operation["responses"], (method, path)
        if method in {"post", "put", "patch", "delete"}:
            assert "507" in operation["responses"], (method, path)


@pytest.mark.parametrize("path", DOC_PATHS)
def test_docs_answer_a_caller_with_an_api_token(
    client: TestClient, world: World, path: str
) -> None:
    assert client.get(path, headers=world.auth("reviewer")).status_code == 200


def test_docs_refuse_an_unknown_token(client: TestClient) -> None:
    r = client.get("/openapi.json", headers={"Authorization": "Bearer dsh_not-a-token"})
    assert r.status_code == 401


@pytest.mark.parametrize("path", DOC_PATHS)
def test_public_api_docs_setting_opens_the_docs(db_url: str, engine: Engine, path: str) -> None:
    settings = Settings(database_url=db_url, public_api_docs=True)
    with TestClient(create_app(settings)) as client:
        assert client.get(path, follow_redirects=False).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_doc_pages_load_only_vendored_files(client: TestClient, world: World, path: str) -> None:
    page = client.get(path, headers=world.auth("owner"))
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert urls and all(url.startswith("/static/vendor/") for url in urls), urls
    assert "fonts.googleapis" not in html and "cdn." not in html
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_every_error_an_operation_can_answer_is_a_documented_problem(
    client: TestClient, world: World
) -> None:
    document = _document(client, world)
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
        "instance",
    ]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        errors = {int(s) for s in responses if s[0] in "45"}
        if operation.get("security"):
            assert {401, 403, 429} <= errors, (method, path)
        if "{" in path:
            assert 404 in errors, (method, path)
        if "requestBody" in operation:
            assert {404, 413, 422} <= errors, (method, path)
        if method != "get":
            assert 409 in errors, (method, path)
        for status in errors:
            content = responses[str(status)]["content"]
            assert list(content) == [PROBLEM_JSON], (method, path, status)
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    health = document["paths"]["/healthz"]["get"]["responses"]
    assert set(health) == {"200", "503"}


def _problem_validator(document: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    schema = {"$ref": "#/components/schemas/Problem", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def test_a_validation_error_body_is_the_documented_problem(
    client: TestClient, world: World
) -> None:
    validator = _problem_validator(_document(client, world))
    r = client.post(
        f"/processes/{world.own_process}/items",
        content=b'{"text": 5, "extra": true}',
        headers={**world.auth("owner"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    validator.validate(body)
    assert {e["field"] for e in body["errors"]} == {"text", "extra"}


def test_not_found_and_conflict_bodies_are_the_documented_problem(
    client: TestClient, world: World
) -> None:
    validator = _problem_validator(_document(client, world))
    auth = world.auth("owner")
    missing = client.get("/items/999999", headers=auth)
    archive = f"/processes/{world.own_process}/archive"
    assert client.post(archive, headers=auth).status_code == 200
    again = client.post(archive, headers=auth)
    assert (missing.status_code, again.status_code) == (404, 409)
    for r in (missing, again):
        assert r.headers["content-type"] == PROBLEM_JSON
        validator.validate(r.json())


def test_patch_documents_which_fields_take_null_and_behaves_so(
    client: TestClient, world: World
) -> None:
    fields = _document(client, world)["components"]["schemas"]["ProcessUpdate"]["properties"]
    nullable = {name for name, f in fields.items() if {"type": "null"} in f.get("anyOf", [])}
    assert {"hourly_rate", "planned_scale_on"} <= nullable
    assert not nullable & {"name", "labels", "mode", "arms", "currency", "error_budget"}
    url, auth = f"/processes/{world.own_process}", world.auth("owner")
    for name in sorted(fields):
        r = client.patch(url, json={name: None}, headers=auth)
        expected = 200 if name in nullable else 422
        assert r.status_code == expected, (name, r.text)
        if expected == 200:
            assert r.json()[name] is None
