"""`GET /items/{id}` and the queue's claim carry the item's evidence passages (document,
version, page/section, score, excerpt, links), found on the first view and kept; another
department gets 404; OpenAPI documents the field."""

from __future__ import annotations

from typing import Any

from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import Decision

GUIDE = (
    "# Lost or stolen cards\n\nReport a lost or stolen card at once: the card is blocked and a "
    "new card is sent.\n\n# Exchange rates\n\nWe exchange money at the interbank rate.\n"
)


def _stocked_item(api: TestClient, world: World) -> int:
    upload = api.post(
        "/knowledge/documents",
        data={"department_id": str(world.own_department)},
        files={"file": ("guide.md", GUIDE.encode())},
        headers=world.auth("owner"),
    )
    assert upload.status_code == 201, upload.text
    created = api.post(
        f"/processes/{world.own_process}/items",
        json={"text": "I lost my card, is it blocked now?"},
        headers=world.auth("owner"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["evidence_passages"] is None  # not looked for at ingest
    return int(created.json()["id"])


def test_an_item_carries_its_passages_with_links_that_open_them(
    api: TestClient, world: World
) -> None:
    item_id = _stocked_item(api, world)
    body = api.get(f"/items/{item_id}", headers=world.auth("reviewer")).json()

    top = body["evidence_passages"][0]
    assert (top["document"], top["version"], top["section"]) == (
        "guide.md",
        1,
        "Lost or stolen cards",
    )
    assert top["score"] > 0 and top["excerpt"].startswith("Report a lost or stolen card")
    assert body["passages_retrieved_at"] is not None
    passage = api.get(f"/knowledge/passages/{top['passage_id']}", headers=world.auth("reviewer"))
    assert passage.json()["url"] == top["url"]
    assert api.get(top["source_url"], headers=world.auth("reviewer")).status_code == 200

    claimed = api.post(
        f"/processes/{world.own_process}/queue/claim", headers=world.auth("reviewer2")
    ).json()
    assert claimed["id"] == item_id and claimed["evidence_passages"] == body["evidence_passages"]


def test_another_department_sees_neither_the_item_nor_its_passages(
    api: TestClient, world: World
) -> None:
    item_id = _stocked_item(api, world)
    refused = api.get(f"/items/{item_id}", headers=world.auth("other_owner"))
    assert refused.status_code == 404
    assert "evidence_passages" not in refused.text and "guide.md" not in refused.text


def test_openapi_documents_the_evidence_passages(api: TestClient, world: World) -> None:
    document = api.get("/openapi.json", headers=world.auth("auditor")).json()
    schemas = document["components"]["schemas"]
    assert "evidence_passages" in schemas["ItemPublic"]["properties"]
    assert "evidence_passages" in schemas["ClaimedItemPublic"]["properties"]
    assert {"document", "version", "page", "section", "score", "url"} <= set(
        schemas["EvidencePassagePublic"]["properties"]
    )


def _passages_stored(factory: sessionmaker[Session], item_id: int) -> list[Any] | None:
    """The passages stored on the item's decision, read straight from the database."""
    with factory() as session:
        query = select(Decision.evidence_passages).where(Decision.item_id == item_id)
        return session.scalars(query).one()


def test_a_claim_finds_the_next_items_passages_before_they_are_claimed(
    api: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    first = _stocked_item(api, world)
    later = [
        api.post(
            f"/processes/{world.own_process}/items",
            json={"text": text},
            headers=world.auth("owner"),
        ).json()["id"]
        for text in ("Which exchange rate do you use?", "My card was stolen yesterday.")
    ]
    assert [_passages_stored(session_factory, item_id) for item_id in later] == [None, None]

    claimed = api.post(
        f"/processes/{world.own_process}/queue/claim", headers=world.auth("reviewer")
    ).json()

    assert claimed["id"] == first
    ahead = [_passages_stored(session_factory, item_id) for item_id in later]
    assert [entry[0]["section"] for entry in ahead if entry] == [
        "Exchange rates",
        "Lost or stolen cards",
    ]
    second = api.post(
        f"/processes/{world.own_process}/queue/claim", headers=world.auth("reviewer2")
    ).json()
    assert second["id"] == later[0] and second["evidence_passages"][0]["section"] == (
        "Exchange rates"
    )
