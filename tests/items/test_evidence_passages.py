"""An item's evidence passages: none at ingest, found on its first view from its own
department's documents, then kept as they were (the lineage shows what the reviewer saw); an
empty knowledge base finds nothing without embedding anything; a replay's claim looks for none;
the passages of the next items are found ahead of their claim. Both databases."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user
from deshi.db import transaction
from deshi.db.tables import Decision
from deshi.domain import Role
from deshi.items.models import ItemCreate
from deshi.items.service import IngestLimits, get_item, ingest_items
from deshi.knowledge import KnowledgeIndex
from deshi.knowledge.links import passage_url
from deshi.knowledge.service import SourceFile, store_documents
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Grant, Principal
from deshi.processes.service import create_department, create_process
from deshi.reviews.prefetch import prefetch_passages
from deshi.reviews.service import claim_next
from fakes import CentroidDecider
from knowledge_fakes import HashingEmbedder, fake_index

GUIDE = (
    "# Card delivery\n\nA new card arrives within 5 working days of the order.\n\n"
    "# Lost or stolen cards\n\nReport a lost or stolen card at once: the card is blocked "
    "and a new card is sent.\n\n"
    "# Exchange rates\n\nWe exchange money at the daily interbank rate plus 0.5 %.\n"
)
OTHER_DEPARTMENT = (
    "# Lost corporate cards\n\nA lost or stolen corporate card is reported to the controller.\n"
)
LOST_CARD = "I lost my card yesterday, what should I do? Is the card blocked?"


@dataclass(frozen=True)
class Desk:
    process_id: int
    department_id: int
    other_department_id: int
    owner: Principal
    reviewer: Principal


@pytest.fixture
def desk(session_factory: sessionmaker[Session]) -> Desk:
    """A shadow-mode process in department Own (an owner, a reviewer); department Other."""
    with transaction(session_factory) as session:
        own = create_department(session, actor="test", name="Own").id
        other = create_department(session, actor="test", name="Other").id
        process = create_process(
            session, actor="test", department_id=own, name="cards", labels=["lost", "delivery"]
        ).id
        users = [
            create_user(session, actor="test", email=f"{who}@example.com", display_name=who).id
            for who in ("owner", "reviewer")
        ]
    return Desk(
        process_id=process,
        department_id=own,
        other_department_id=other,
        owner=Principal.of(users[0], [Grant(Role.OWNER, own)]),
        reviewer=Principal.of(users[1], [Grant(Role.REVIEWER, own)]),
    )


def _stock(
    factory: sessionmaker[Session], department_id: int, files: dict[str, str], index: KnowledgeIndex
) -> None:
    with transaction(factory) as session:
        store_documents(
            session,
            actor="test",
            department_id=department_id,
            files=[SourceFile(name, body.encode()) for name, body in files.items()],
            index=index,
        )


def _ingest(factory: sessionmaker[Session], desk: Desk, *texts: str) -> list[int]:
    stored = ingest_items(
        factory,
        principal=desk.owner,
        process_id=desk.process_id,
        items=[ItemCreate(text=text) for text in texts],
        limits=IngestLimits(),
        batch=len(texts) > 1,
        registry=AgentRegistry(make_decider=CentroidDecider),
    )
    return [item.id for item in stored]


def _stored(factory: sessionmaker[Session], item_id: int) -> list[object] | None:
    with factory() as session:
        query = select(Decision.evidence_passages).where(Decision.item_id == item_id)
        return session.scalars(query).one()


def test_passages_are_found_on_first_view_from_the_own_department_and_kept_as_they_were(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    index = fake_index()
    _stock(session_factory, desk.department_id, {"guide.md": GUIDE}, index)
    _stock(session_factory, desk.other_department_id, {"corporate.md": OTHER_DEPARTMENT}, index)
    [item_id] = _ingest(session_factory, desk, LOST_CARD)
    assert _stored(session_factory, item_id) is None  # ingest embeds nothing

    with transaction(session_factory) as session:
        first = get_item(session, principal=desk.reviewer, item_id=item_id, index=index)
    assert first.evidence_passages, "the guide has a passage on lost cards"
    top = first.evidence_passages[0]
    assert (top.document, top.version, top.section) == ("guide.md", 1, "Lost or stolen cards")
    assert top.excerpt.startswith("Report a lost or stolen card")
    assert top.url == passage_url(top.document_id, 1, top.passage_id)
    assert {p.document for p in first.evidence_passages} == {"guide.md"}  # never Other's
    assert len(first.evidence_passages) <= 3
    assert _stored(session_factory, item_id) is not None

    _stock(
        session_factory, desk.department_id, {"guide.md": GUIDE + "\nCall us any time.\n"}, index
    )
    with transaction(session_factory) as session:
        again = get_item(session, principal=desk.reviewer, item_id=item_id, index=index)
    assert again.evidence_passages == first.evidence_passages  # still version 1, as first shown
    assert again.passages_retrieved_at == first.passages_retrieved_at


class _RefusingEmbedder(HashingEmbedder):
    """Embeds passages; fails the test if a query is ever embedded."""

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise AssertionError(f"embedded {len(texts)} queries against an empty knowledge base")


def test_an_empty_knowledge_base_finds_nothing_without_embedding_and_keeps_that(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    index = KnowledgeIndex(embedder=_RefusingEmbedder())
    [item_id] = _ingest(session_factory, desk, LOST_CARD)
    with transaction(session_factory) as session:
        shown = get_item(session, principal=desk.owner, item_id=item_id, index=index)
    assert shown.evidence_passages == [] and shown.passages_retrieved_at is not None
    assert _stored(session_factory, item_id) == []

    _stock(session_factory, desk.department_id, {"guide.md": GUIDE}, fake_index())
    with transaction(session_factory) as session:
        later = get_item(session, principal=desk.owner, item_id=item_id, index=fake_index())
    assert later.evidence_passages == []  # what was shown first stays the item's lineage


def test_a_claim_shows_the_passages_to_a_blind_review_and_a_replay_claim_looks_for_none(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    index = fake_index()
    _stock(session_factory, desk.department_id, {"guide.md": GUIDE}, index)
    first_id, second_id = _ingest(session_factory, desk, LOST_CARD, "When does my new card arrive?")

    with transaction(session_factory) as session:
        claimed = claim_next(
            session, principal=desk.reviewer, process_id=desk.process_id, index=index
        )
        replayed = claim_next(
            session, principal=desk.owner, process_id=desk.process_id, resume_held=False
        )
    assert claimed is not None and replayed is not None
    assert claimed.id == first_id and claimed.blind and claimed.suggestion is None  # shadow mode
    assert claimed.evidence_passages[0].section == "Lost or stolen cards"
    assert replayed.id == second_id and replayed.evidence_passages == []
    assert _stored(session_factory, second_id) is None


def test_passages_found_ahead_of_a_claim_are_the_ones_it_shows_without_embedding(
    session_factory: sessionmaker[Session], desk: Desk
) -> None:
    index = fake_index()
    _stock(session_factory, desk.department_id, {"guide.md": GUIDE}, index)
    ids = _ingest(session_factory, desk, LOST_CARD, "When does my new card arrive?", "Rates?")
    with transaction(session_factory) as session:
        first = claim_next(
            session, principal=desk.reviewer, process_id=desk.process_id, index=index
        )
    assert first is not None and first.id == ids[0]

    found = prefetch_passages(
        session_factory, principal=desk.reviewer, process_id=desk.process_id, index=index
    )

    assert found == 2 and all(_stored(session_factory, item_id) for item_id in ids[1:])
    assert (
        prefetch_passages(
            session_factory, principal=desk.reviewer, process_id=desk.process_id, index=index
        )
        == 0
    )  # nothing left to find
    refusing = KnowledgeIndex(embedder=_RefusingEmbedder())
    with transaction(session_factory) as session:
        second = claim_next(
            session, principal=desk.owner, process_id=desk.process_id, index=refusing
        )
    assert second is not None and second.id == ids[1]
    assert second.evidence_passages[0].section == "Card delivery"


class _BrokenEmbedder(HashingEmbedder):
    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise RuntimeError("the embedder is gone")


def test_a_failure_to_find_passages_ahead_is_logged_and_leaves_them_to_the_claim(
    session_factory: sessionmaker[Session], desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    index = fake_index()
    _stock(session_factory, desk.department_id, {"guide.md": GUIDE}, index)
    [item_id] = _ingest(session_factory, desk, LOST_CARD)

    with caplog.at_level(logging.WARNING, logger="deshi.reviews.prefetch"):
        found = prefetch_passages(
            session_factory,
            principal=desk.reviewer,
            process_id=desk.process_id,
            index=KnowledgeIndex(embedder=_BrokenEmbedder()),
        )

    assert found == 0 and _stored(session_factory, item_id) is None
    assert "the embedder is gone" in caplog.text
    with transaction(session_factory) as session:
        claimed = claim_next(
            session, principal=desk.reviewer, process_id=desk.process_id, index=index
        )
    assert claimed is not None and claimed.evidence_passages[0].section == "Lost or stolen cards"
