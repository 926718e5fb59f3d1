"""Consistency and the checker's agreement with the verdicts on every surface, from stored
drafts: `GET /processes/{id}/drafting` (and its OpenAPI schema), `deshi drafts kpis` as JSON
(the same report) and as a table in English and Japanese ("n/a" without pairs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kpi_world import KpiWorld
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app as cli
from deshi.db import transaction
from deshi.db.tables import Item, KnowledgePassage, Process, StoredDraft
from deshi.db.tables.drafts import DraftVerdict
from deshi.knowledge.service import SourceFile, store_documents
from knowledge_fakes import fake_index

ANSWER = "A new card arrives within 5 working days [1]. Freeze it after 7 days [1]."
OTHER = "Exchange rates follow the interbank rate [1]."


def _passages(session: Session, department_id: int) -> dict[str, int]:
    """One passage id of each of two documents, by document name."""
    store_documents(
        session,
        actor="test",
        department_id=department_id,
        files=[
            SourceFile("cards.md", b"# Cards\n\nA new card arrives within 5 working days.\n"),
            SourceFile("rates.md", b"# Rates\n\nExchange rates follow the interbank rate.\n"),
        ],
        index=fake_index(),
    )
    rows = session.execute(select(KnowledgePassage.id, KnowledgePassage.document_id)).all()
    names = {
        "cards.md": min(r.document_id for r in rows),
        "rates.md": max(r.document_id for r in rows),
    }
    return {name: min(r.id for r in rows if r.document_id == doc) for name, doc in names.items()}


def _drafted(
    session: Session,
    process: Process,
    question: str,
    text: str,
    passage: int,
    *,
    flagged: bool,
    verdict: DraftVerdict | None,
) -> None:
    item = Item(process_id=process.id, text=question, arm="assisted")
    session.add(item)
    session.flush()
    session.add(
        StoredDraft(
            department_id=process.department_id,
            process_id=process.id,
            item_id=item.id,
            drafter="extractive",
            text=text,
            citations=[passage],
            faithfulness=0.5 if flagged else 1.0,
            has_unsupported_claim=flagged,
            sentences=2,
            supported_sentences=1 if flagged else 2,
            created_by="test",
            verdict=verdict,
        )
    )


@pytest.fixture
def drafted(world: KpiWorld, session_factory: sessionmaker[Session]) -> KpiWorld:
    """Three drafts of one question in the process (two pairs: one consistent, one citing
    another document in other words) and one draft in the orphan process (no pair)."""
    with transaction(session_factory) as session:
        process = session.get_one(Process, world.process)
        passage = _passages(session, process.department_id)
        cards, rates = passage["cards.md"], passage["rates.md"]
        _drafted(
            session,
            process,
            "Where is my card?",
            ANSWER,
            cards,
            flagged=False,
            verdict=DraftVerdict.ACCEPTED,
        )
        _drafted(
            session,
            process,
            "where is my CARD",
            ANSWER,
            cards,
            flagged=True,
            verdict=DraftVerdict.EDITED,
        )
        _drafted(
            session,
            process,
            "Where is my card !",
            OTHER,
            rates,
            flagged=False,
            verdict=DraftVerdict.REJECTED,
        )
        _drafted(session, session.get_one(Process, world.orphan_process), "Top up?", OTHER,
                 rates, flagged=False, verdict=None)  # fmt: skip
    return world


def _report(client: TestClient, world: KpiWorld, process: int) -> Any:
    response = client.get(f"/processes/{process}/drafting", headers=world.auth("auditor"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_measures_consistency_and_the_checker(
    client: TestClient, drafted: KpiWorld
) -> None:
    overall = _report(client, drafted, drafted.process)["overall"]

    consistency = overall["consistency"]
    assert (consistency["pairs"], consistency["same_sources"], consistency["same_text"]) == (
        2,
        1,
        1,
    )
    assert consistency["rate"]["value"] == 0.5 and consistency["rate"]["n"] == 2
    checker = overall["checker"]
    counts = [checker[k] for k in ("flagged_changed", "flagged_accepted", "unflagged_changed",
                                   "unflagged_accepted")]  # fmt: skip
    assert counts == [1, 0, 1, 1]
    assert checker["precision"]["value"] == 1.0 and checker["precision"]["n"] == 1
    assert checker["recall"]["value"] == 0.5 and checker["recall"]["n"] == 2

    lonely = _report(client, drafted, drafted.orphan_process)["overall"]["consistency"]
    assert lonely == {"pairs": 0, "same_sources": 0, "same_text": 0, "rate": None}


def test_openapi_documents_the_new_kpis(client: TestClient, drafted: KpiWorld) -> None:
    document = client.get("/openapi.json", headers=drafted.auth("auditor")).json()
    schemas = document["components"]["schemas"]
    assert {"consistency", "checker"} <= set(schemas["DraftingKpis"]["properties"])
    assert {"precision", "recall"} <= set(schemas["CheckerAgreement"]["properties"])


def _cli(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["drafts", "kpis", *args, "--db", db_url], env={"COLUMNS": "500"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_cli_prints_the_same_report_as_json(
    client: TestClient, db_url: str, drafted: KpiWorld
) -> None:
    printed = json.loads(_cli(db_url, "--process", str(drafted.process), "--json"))
    assert printed == _report(client, drafted, drafted.process)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            ["Consistent answers", "Checker precision", "Checker recall", "flagged yet accepted 0"],
        ),
        ("ja", ["回答の一貫性", "チェッカーの適合率", "チェッカーの再現率", "指摘ありでも採用 0"]),
    ],
)
def test_the_cli_table_shows_them_in_both_languages(
    db_url: str, drafted: KpiWorld, lang: str, words: list[str]
) -> None:
    table = _cli(db_url, "--process", str(drafted.process), "--lang", lang)
    for word in words:
        assert word in table
    assert "50.0%" in table and "n=2" in table

    lonely = _cli(db_url, "--process", str(drafted.orphan_process), "--lang", lang)
    assert ("n/a" if lang == "en" else "該当なし") in lonely
