"""Paraphrase consistency from stored drafts' message vectors on every surface (`GET
/processes/{id}/drafting` and its OpenAPI schema, `deshi drafts kpis` as JSON and as a table in
English and Japanese), and the drafting report kept in the KPI cache: a cached read equals a
fresh one, and a new draft, a verdict or an edit makes the next read recompute."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from kpi_world import KpiWorld
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from test_drafting_agreement_surfaces import _cli, _passages

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import Item, KpiSnapshot, Process, StoredDraft
from deshi.db.tables.drafts import DraftVerdict
from deshi.kpis import drafting_report as drafting_report_module
from deshi.kpis.context import get_process
from deshi.kpis.drafting import DraftingReport
from deshi.kpis.drafting_agreement import PARAPHRASE_SIMILARITY
from deshi.kpis.drafting_report import fresh_drafting_report, process_drafting_report

ANSWER = "A new card arrives within 5 working days [1]. Freeze it after 7 days [1]."
OTHER = "Exchange rates follow the interbank rate [1]."


def _unit(*values: float) -> bytes:
    vector = np.asarray(values, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()


CARD = _unit(1.0, 0.0, 0.0)
NEAR = _unit(0.99, float(np.sqrt(1 - 0.99**2)), 0.0)  # cosine 0.99 with CARD
RATES = _unit(0.0, 0.0, 1.0)


def _drafted(
    session: Session, process: Process, question: str, text: str, passage: int, vector: bytes
) -> int:
    item = Item(process_id=process.id, text=question, arm="assisted")
    session.add(item)
    session.flush()
    draft = StoredDraft(
        department_id=process.department_id,
        process_id=process.id,
        item_id=item.id,
        vector=vector,
        drafter="extractive",
        text=text,
        citations=[passage],
        faithfulness=1.0,
        has_unsupported_claim=False,
        sentences=2,
        supported_sentences=2,
        created_by="test",
    )
    session.add(draft)
    session.flush()
    return draft.id


@pytest.fixture
def drafted(world: KpiWorld, session_factory: sessionmaker[Session]) -> KpiWorld:
    """Four drafts, no two of the same text: a paraphrase answered alike (consistent), a
    paraphrase answered from another document (not), and an unrelated question."""
    with transaction(session_factory) as session:
        process = session.get_one(Process, world.process)
        passage = _passages(session, process.department_id)
        cards, rates = passage["cards.md"], passage["rates.md"]
        _drafted(session, process, "Where is my card?", ANSWER, cards, CARD)
        _drafted(session, process, "My card has not arrived yet", ANSWER, cards, NEAR)
        _drafted(session, process, "What rate do you exchange at?", OTHER, rates, RATES)
        _drafted(session, process, "When does my card come?", OTHER, rates, CARD)
    return world


def _api(client: TestClient, world: KpiWorld) -> Any:
    response = client.get(f"/processes/{world.process}/drafting", headers=world.auth("auditor"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_measures_paraphrase_consistency(client: TestClient, drafted: KpiWorld) -> None:
    overall = _api(client, drafted)["overall"]
    assert overall["consistency"]["pairs"] == 0  # no text was drafted twice
    found = overall["paraphrase_consistency"]
    assert found["threshold"] == PARAPHRASE_SIMILARITY
    assert (found["pairs"], found["exact_repeats"], found["same_sources"], found["same_text"]) == (
        2,
        0,
        1,
        1,
    )
    assert found["rate"]["value"] == 0.5 and found["rate"]["n"] == 2

    document = client.get("/openapi.json", headers=drafted.auth("auditor")).json()
    schemas = document["components"]["schemas"]
    assert "paraphrase_consistency" in schemas["DraftingKpis"]["properties"]
    assert {"threshold", "pairs", "exact_repeats", "rate"} <= set(
        schemas["ParaphraseConsistency"]["properties"]
    )


def test_the_cli_prints_the_same_report_as_json(
    client: TestClient, db_url: str, drafted: KpiWorld
) -> None:
    printed = json.loads(_cli(db_url, "--process", str(drafted.process), "--json"))
    assert printed == _api(client, drafted)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Consistent answers, paraphrases included", "at least 0.97 alike; 2 pairs"]),
        ("ja", ["回答の一貫性（言い換えを含む）", "類似度が 0.97 以上のメッセージ。2 組"]),
    ],
)
def test_the_cli_table_shows_it_in_both_languages(
    db_url: str, drafted: KpiWorld, lang: str, words: list[str]
) -> None:
    table = _cli(db_url, "--process", str(drafted.process), "--lang", lang)
    for word in words:
        assert word in table
    assert "50.0%" in table and "n=2" in table


def _cached(factory: sessionmaker[Session], process_id: int) -> DraftingReport:
    with transaction(factory, lock_early=False) as session:
        return process_drafting_report(session, get_process(session, process_id))


def _fresh(factory: sessionmaker[Session], process_id: int) -> DraftingReport:
    with transaction(factory, lock_early=False) as session:
        return fresh_drafting_report(session, get_process(session, process_id))


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The processes whose drafting report was computed afresh, one entry per computation."""
    calls: list[int] = []
    fresh = drafting_report_module.fresh_drafting_report

    def counting(session: Session, process: Process, **period: Any) -> DraftingReport:
        calls.append(process.id)
        return fresh(session, process, **period)

    monkeypatch.setattr(drafting_report_module, "fresh_drafting_report", counting)
    return calls


def test_a_cached_report_equals_a_fresh_one_and_is_not_recomputed(
    session_factory: sessionmaker[Session], drafted: KpiWorld, computed: list[int]
) -> None:
    first = _cached(session_factory, drafted.process)
    again = _cached(session_factory, drafted.process)
    assert computed == [drafted.process]  # the second read came from the cache
    assert again == first == _fresh(session_factory, drafted.process)
    assert again.overall.paraphrase_consistency.pairs == 2
    with session_factory() as session:
        keys = session.scalars(
            select(KpiSnapshot.key).where(KpiSnapshot.process_id == drafted.process)
        ).all()
    assert "drafting|None|None|None" in keys


def test_a_new_draft_a_verdict_and_an_edit_each_force_a_recompute(
    session_factory: sessionmaker[Session], drafted: KpiWorld, computed: list[int]
) -> None:
    before = _cached(session_factory, drafted.process)
    with transaction(session_factory) as session:
        process = session.get_one(Process, drafted.process)
        cards = _passages(session, process.department_id)["cards.md"]
        new = _drafted(session, process, "Card still missing", ANSWER, cards, NEAR)
    after_draft = _cached(session_factory, drafted.process)
    assert len(computed) == 2
    assert after_draft.overall.drafts == before.overall.drafts + 1
    assert after_draft.overall.paraphrase_consistency.pairs == 3

    with transaction(session_factory) as session:
        draft = session.get_one(StoredDraft, new)
        draft.verdict, draft.verdict_at = DraftVerdict.ACCEPTED, utcnow()
    after_verdict = _cached(session_factory, drafted.process)
    assert len(computed) == 3 and after_verdict.overall.judged == 1
    assert after_verdict.overall.acceptance is not None
    assert after_verdict.overall.acceptance.value == 1.0

    with transaction(session_factory) as session:  # the reviewer changes their mind: an edit
        draft = session.get_one(StoredDraft, new)
        draft.verdict, draft.final_text = DraftVerdict.EDITED, "Freeze the card now."
        draft.edit_distance, draft.verdict_at = 0.6, utcnow()
    after_edit = _cached(session_factory, drafted.process)
    assert len(computed) == 4
    assert after_edit.overall.acceptance is not None
    assert after_edit.overall.acceptance.value == 0.0  # the same count of verdicts: still seen
    assert after_edit == _fresh(session_factory, drafted.process)

    _cached(session_factory, drafted.process)  # nothing changed since: served
    assert len(computed) == 4
    with session_factory() as session:
        count = select(func.count()).select_from(KpiSnapshot)
        assert session.scalar(count.where(KpiSnapshot.process_id == drafted.process)) == 1


def test_a_value_drafted_for_a_field_is_not_counted_as_a_reply(
    drafted: KpiWorld, session_factory: sessionmaker[Session]
) -> None:
    # A field's value for an item beside its reply would pair as "the same question answered
    # differently" and count as a draft (here an unsupported one) in every rate.
    with transaction(session_factory) as session:
        process = session.get_one(Process, drafted.process)
        cards = _passages(session, process.department_id)["cards.md"]
        reply = _drafted(session, process, "Where is my card?", ANSWER, cards, CARD)
        item_id = session.get_one(StoredDraft, reply).item_id
    with_reply = _fresh(session_factory, drafted.process)
    with transaction(session_factory) as session:
        session.add(
            StoredDraft(
                department_id=process.department_id,
                process_id=drafted.process,
                item_id=item_id,
                vector=CARD,
                drafter="extractive",
                text="5 working days [1].",
                citations=[cards],
                faithfulness=0.0,
                has_unsupported_claim=True,
                sentences=1,
                supported_sentences=0,
                created_by="test",
                field="delivery_days",
            )
        )
    with_value = _fresh(session_factory, drafted.process)
    assert with_reply.overall.drafts == 5
    assert with_value.model_dump() == with_reply.model_dump()
