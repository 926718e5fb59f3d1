"""The knowledge API: upload (multipart), list, read with passages, open a passage and the
original file, search, remove; 404 outside the department, 403 for roles that may not change
it, problem+json for unreadable files; documented in OpenAPI."""

from __future__ import annotations

import pytest
from api_world import World
from fastapi.testclient import TestClient

from knowledge_fakes import japanese_pdf

POLICY = "# Refunds\nRefunds are paid within 14 days.\n# 返金\n返金は十四日以内に支払われます。"


def _upload(
    api: TestClient, world: World, who: str, name: str, content: bytes, department: int
) -> object:
    return api.post(
        "/knowledge/documents",
        data={"department_id": str(department)},
        files={"file": (name, content)},
        headers=world.auth(who),
    )


def test_upload_list_read_search_and_open_a_passage(api: TestClient, world: World) -> None:
    r = _upload(api, world, "owner", "refunds.md", POLICY.encode(), world.own_department)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    stored = r.json()  # type: ignore[attr-defined]
    assert stored["changed"] and stored["version"] == 1 and stored["passages"] == 2
    document_id = stored["document"]["id"]

    again = _upload(api, world, "owner", "refunds.md", POLICY.encode(), world.own_department)
    assert again.status_code == 200 and not again.json()["changed"]  # type: ignore[attr-defined]

    listed = api.get(
        "/knowledge/documents",
        params={"department_id": world.own_department},
        headers=world.auth("reviewer"),
    ).json()
    assert [d["name"] for d in listed] == ["refunds.md"]

    detail = api.get(f"/knowledge/documents/{document_id}", headers=world.auth("reviewer")).json()
    assert [p["section"] for p in detail["passages"]] == ["Refunds", "返金"]
    assert detail["versions"][0]["media_type"] == "markdown"

    hits = api.post(
        "/knowledge/search",
        json={"department_id": world.own_department, "query": "返金 十四日", "top_k": 1},
        headers=world.auth("reviewer"),
    ).json()
    assert [(h["document"], h["section"], h["version"]) for h in hits] == [
        ("refunds.md", "返金", 1)
    ]
    assert hits[0]["url"] == f"/knowledge/docs/{document_id}?version=1#p-{hits[0]['passage_id']}"

    passage = api.get(
        f"/knowledge/passages/{hits[0]['passage_id']}", headers=world.auth("reviewer")
    )
    assert passage.json()["text"] == "返金は十四日以内に支払われます。"


def test_a_pdf_opens_at_the_page_of_its_passage(api: TestClient, world: World) -> None:
    pdf = japanese_pdf(["カードの再発行は無料です。", "紛失時は直ちに連絡してください。"])
    r = _upload(api, world, "owner", "カード.pdf", pdf, world.own_department)
    stored = r.json()  # type: ignore[attr-defined]
    hits = api.post(
        "/knowledge/search",
        json={
            "department_id": world.own_department,
            "query": "紛失 連絡",
            "top_k": 1,
            "mode": "lexical",
        },
        headers=world.auth("owner"),
    ).json()
    assert hits[0]["page"] == 2
    assert hits[0]["source_url"].endswith("/versions/1/source#page=2")
    source = api.get(hits[0]["source_url"].split("#")[0], headers=world.auth("reviewer"))
    assert source.status_code == 200 and source.content == pdf
    assert source.headers["content-type"] == "application/pdf"
    assert source.headers["content-disposition"].startswith("inline;")
    assert stored["document"]["name"] == "カード.pdf"


def test_an_uploaded_html_page_downloads_sandboxed_never_as_this_site(
    api: TestClient, world: World
) -> None:
    html = b"<h1>Hours</h1><p>Open at nine.</p><script>alert(1)</script>"
    _upload(api, world, "owner", "hours.html", html, world.own_department)
    source = api.get("/knowledge/documents/1/versions/1/source", headers=world.auth("owner"))
    assert source.headers["content-disposition"].startswith("attachment;")
    assert source.headers["content-security-policy"] == "sandbox"


def test_other_departments_see_nothing_and_reviewers_change_nothing(
    api: TestClient, world: World
) -> None:
    _upload(api, world, "owner", "refunds.md", POLICY.encode(), world.own_department)
    outsider = world.auth("other_owner")
    for path in (
        "/knowledge/documents/1",
        "/knowledge/passages/1",
        "/knowledge/documents/1/versions/1/source",
    ):
        assert api.get(path, headers=outsider).status_code == 404
    assert api.delete("/knowledge/documents/1", headers=outsider).status_code == 404
    search = {"department_id": world.own_department, "query": "refunds"}
    assert api.post("/knowledge/search", json=search, headers=outsider).status_code == 404
    assert api.get("/knowledge/documents", headers=outsider).json() == []
    r = _upload(api, world, "other_owner", "x.md", b"x", world.own_department)
    assert r.status_code == 404  # type: ignore[attr-defined]

    r = _upload(api, world, "reviewer", "x.md", b"x", world.own_department)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert api.delete("/knowledge/documents/1", headers=world.auth("reviewer")).status_code == 403


def test_remove_keeps_versions_and_leaves_search(api: TestClient, world: World) -> None:
    _upload(api, world, "owner", "refunds.md", POLICY.encode(), world.own_department)
    assert api.delete("/knowledge/documents/1", headers=world.auth("owner")).status_code == 204
    search = {"department_id": world.own_department, "query": "refunds"}
    assert api.post("/knowledge/search", json=search, headers=world.auth("owner")).json() == []
    detail = api.get("/knowledge/documents/1", headers=world.auth("owner")).json()
    assert detail["removed_at"] is not None and len(detail["passages"]) == 2
    assert api.delete("/knowledge/documents/1", headers=world.auth("owner")).status_code == 409


def test_unreadable_and_unsupported_files_are_problems_naming_the_file(
    api: TestClient, world: World
) -> None:
    for name, content in (("photo.png", b"\x89PNG"), ("broken.pdf", b"%PDF-1.7 nope")):
        r = _upload(api, world, "owner", name, content, world.own_department)
        assert r.status_code == 422  # type: ignore[attr-defined]
        problem = r.json()  # type: ignore[attr-defined]
        assert problem["field"] == "file" and problem["detail"].startswith(name)
    too_many = {"department_id": world.own_department, "query": "x", "top_k": 51}
    assert (
        api.post("/knowledge/search", json=too_many, headers=world.auth("owner")).status_code == 422
    )


def test_the_knowledge_routes_are_in_the_openapi_document(api: TestClient, world: World) -> None:
    paths = api.get("/openapi.json", headers=world.auth("owner")).json()["paths"]
    assert {"post", "get"} <= set(paths["/knowledge/documents"])
    assert "delete" in paths["/knowledge/documents/{document_id}"]
    for path in (
        "/knowledge/search",
        "/knowledge/passages/{passage_id}",
        "/knowledge/documents/{document_id}/versions/{version}/source",
    ):
        assert path in paths


ROLES = ["workspace_admin", "admin", "owner", "reviewer", "auditor"]
MANAGERS = {"workspace_admin", "admin", "owner"}


def _seeded(api: TestClient, world: World, department: int) -> tuple[int, int]:
    """A document in the department, uploaded by the workspace admin: (document, passage)."""
    name = f"policy-{department}.md"
    r = _upload(api, world, "workspace_admin", name, POLICY.encode(), department)
    document_id = r.json()["document"]["id"]  # type: ignore[attr-defined]
    detail = api.get(f"/knowledge/documents/{document_id}", headers=world.auth("workspace_admin"))
    return document_id, detail.json()["passages"][0]["id"]


@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_knowledge_authorization_matrix(
    api: TestClient, world: World, role: str, where: str
) -> None:
    department = world.own_department if where == "own" else world.other_department
    document_id, passage_id = _seeded(api, world, department)
    auth = world.auth(role)
    calls = {
        "list": (
            api.get("/knowledge/documents", params={"department_id": department}, headers=auth),
            200,
            False,
        ),
        "read": (api.get(f"/knowledge/documents/{document_id}", headers=auth), 200, False),
        "source": (
            api.get(f"/knowledge/documents/{document_id}/versions/1/source", headers=auth),
            200,
            False,
        ),
        "passage": (api.get(f"/knowledge/passages/{passage_id}", headers=auth), 200, False),
        "search": (
            api.post(
                "/knowledge/search",
                json={"department_id": department, "query": "refunds"},
                headers=auth,
            ),
            200,
            False,
        ),
        "upload": (_upload(api, world, role, f"{role}.md", b"# New\nText.", department), 201, True),
        "remove": (api.delete(f"/knowledge/documents/{document_id}", headers=auth), 204, True),
    }
    wrong = []
    for name, (response, success, manages) in calls.items():
        if where == "other" and role != "workspace_admin":
            want = 404
        elif manages and role not in MANAGERS:
            want = 403
        else:
            want = success
        if response.status_code != want:  # type: ignore[attr-defined]
            wrong.append(f"{name}: {response.status_code} != {want}")  # type: ignore[attr-defined]
    assert not wrong, "\n".join(wrong)
