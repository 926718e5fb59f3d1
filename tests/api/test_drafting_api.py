"""`POST /knowledge/draft` and `deshi draft`: a reply from the department's documents with its
citations and sentence checks; a configured chat model is called with personal data redacted
and audited without text; a failing model falls back to the extractive draft and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app as cli
from deshi.db import transaction
from deshi.db.tables import AuditEvent, StoredDraft
from deshi.drafting.core import Drafter
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.remote import ChatDrafter
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.service import SourceFile, store_documents
from deshi.processes.service import create_department
from deshi.settings import Settings
from deshi.web import create_app

CHEAP_HASHING = "fast-insecure"
POLICY = (
    "# Lost and late cards\n\n"
    "A new card arrives within 5 working days. If it has not arrived after 7 days, freeze it "
    "in the app and order a replacement. Replacement cards cost 5 EUR.\n\n"
    "# Refunds\n\nA refund reaches your account within 10 days of approval.\n"
)
MESSAGE = "My new card has not arrived after 8 days, what do I do? — Ken Sato, ken@example.com"


@pytest.fixture
def documents(world: World, session_factory: sessionmaker[Session]) -> World:
    with transaction(session_factory) as session:
        store_documents(
            session,
            actor="test",
            department_id=world.own_department,
            files=[SourceFile("cards.md", POLICY.encode())],
            index=KnowledgeIndex(),
        )
    return world


def _client(db_url: str, drafter: Drafter | None = None) -> TestClient:
    settings = Settings(database_url=db_url, password_hash_profile=CHEAP_HASHING)
    return TestClient(create_app(settings, drafter=drafter))


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    with _client(db_url) as test_client:
        yield test_client


def _chat(handler: httpx.MockTransport) -> ChatDrafter:
    return ChatDrafter(
        base_url="http://llm.test/v1",
        model="qwen2.5-1.5b",
        client=httpx.Client(transport=handler),
        fallback=ExtractiveDrafter(),
    )


def _remote_calls(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "drafting.remote_call")
        return list(session.scalars(query))


def test_a_reviewer_gets_an_extractive_draft_with_citations(
    client: TestClient, documents: World
) -> None:
    body = {"department_id": documents.own_department, "message": MESSAGE}
    response = client.post("/knowledge/draft", json=body, headers=documents.auth("reviewer"))

    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["drafter"] == "extractive" and "[1]" in draft["text"]
    assert "freeze it in the app" in draft["text"]
    cited = [c for c in draft["citations"] if c["cited"]]
    assert (
        cited and cited[0]["document"] == "cards.md" and cited[0]["url"].startswith("/knowledge/")
    )
    assert draft["faithfulness"] == 1.0 and not draft["has_unsupported_claim"]
    assert all(s["supported"] for s in draft["sentences"])


def test_another_department_is_not_found(client: TestClient, documents: World) -> None:
    body = {"department_id": documents.own_department, "message": MESSAGE}
    response = client.post("/knowledge/draft", json=body, headers=documents.auth("other_owner"))
    assert response.status_code == 404


def test_a_chat_model_gets_no_personal_data_and_the_call_is_audited_without_text(
    db_url: str, engine: Engine, documents: World, session_factory: sessionmaker[Session]
) -> None:
    sent: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        sent.append(request.content.decode())
        answer = "Dear <PERSON_1>, freeze the card in the app and order a replacement [1]."
        return httpx.Response(200, json={"choices": [{"message": {"content": answer}}]})

    with _client(db_url, _chat(httpx.MockTransport(endpoint))) as client:
        body = {"department_id": documents.own_department, "message": MESSAGE}
        draft = client.post("/knowledge/draft", json=body, headers=documents.auth("owner")).json()

    assert "Ken Sato" not in sent[0] and "ken@example.com" not in sent[0]
    assert draft["text"].startswith("Dear Ken Sato, freeze the card")
    assert draft["drafter"] == "chat" and draft["guardrails"] == ["redacted:2"]
    [event] = _remote_calls(session_factory)
    assert event.after == {
        "endpoint": "http://llm.test/v1",
        "model": "qwen2.5-1.5b",
        "redactions": 2,
        "guardrails": ["redacted:2"],
    }
    assert "Ken" not in json.dumps(event.after) and event.department_id == documents.own_department


def test_a_failing_model_falls_back_to_the_extractive_draft_and_says_so(
    db_url: str, engine: Engine, documents: World, session_factory: sessionmaker[Session]
) -> None:
    down = httpx.MockTransport(lambda request: httpx.Response(503, json={"error": "loading"}))
    with _client(db_url, _chat(down)) as client:
        body = {"department_id": documents.own_department, "message": MESSAGE}
        draft = client.post("/knowledge/draft", json=body, headers=documents.auth("owner")).json()

    assert draft["drafter"] == "extractive" and draft["guardrails"] == ["model_failed"]
    assert "answered 503" in draft["notes"][0]
    [event] = _remote_calls(session_factory)
    assert event.after["guardrails"] == ["model_failed"]


def test_no_transaction_stays_open_while_the_model_drafts(
    db_url: str, engine: Engine, documents: World, session_factory: sessionmaker[Session]
) -> None:
    """A model drafts for seconds to minutes; on SQLite a request holding the write lock that
    long would make every other writer (ingest, reviews) fail after the busy timeout. Here the
    endpoint writes to the workspace while it "drafts", as another request would."""
    written: list[int] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        with transaction(session_factory) as session:
            written.append(create_department(session, actor="test", name="Meanwhile").id)
        answer = "Freeze the card in the app and order a replacement [1]."
        return httpx.Response(200, json={"choices": [{"message": {"content": answer}}]})

    with _client(db_url, _chat(httpx.MockTransport(endpoint))) as client:
        body = {"department_id": documents.own_department, "message": MESSAGE}
        response = client.post("/knowledge/draft", json=body, headers=documents.auth("owner"))

    assert response.status_code == 200, response.text
    assert response.json()["drafter"] == "chat" and len(written) == 1
    with transaction(session_factory) as session:
        stored = session.scalars(select(StoredDraft.drafter)).all()
    assert stored == ["chat"]


def test_bad_input_is_a_422(client: TestClient, documents: World) -> None:
    headers = documents.auth("owner")
    empty = {"department_id": documents.own_department, "message": ""}
    assert client.post("/knowledge/draft", json=empty, headers=headers).status_code == 422
    too_many = {"department_id": documents.own_department, "message": "x", "top_k": 50}
    assert client.post("/knowledge/draft", json=too_many, headers=headers).status_code == 422


def test_the_cli_prints_the_same_draft(db_url: str, documents: World) -> None:
    result = CliRunner().invoke(
        cli,
        ["draft", MESSAGE, "--department", str(documents.own_department), "--json", "--db", db_url],
    )
    assert result.exit_code == 0, result.output
    draft = json.loads(result.stdout)
    assert draft["drafter"] == "extractive" and draft["faithfulness"] == 1.0
    assert any(c["cited"] and c["document"] == "cards.md" for c in draft["citations"])

    text = CliRunner().invoke(
        cli, ["draft", MESSAGE, "--department", str(documents.own_department), "--db", db_url]
    )
    assert (
        text.exit_code == 0
        and "[1] cards.md" in text.stdout
        and "Faithfulness: 100%" in text.stdout
    )
