"""A champion stores its case memory's rows, and an agent restored from the database with them
is the agent that trained, bit for bit: the same index, decisions and threshold; with cases
reviewed since, the same index and recent block as the agent that reviewed them."""

from __future__ import annotations

import csv
import random
from dataclasses import replace

import numpy as np
from learning_desk import BANKING77, Desk
from sqlalchemy import select

from deshi.db import transaction
from deshi.db.tables import ModelVersion, Process
from deshi.domain import ModelStatus
from deshi.engine import Agent
from deshi.engine.search import SHORTLIST_FROM
from deshi.engine.serialize import load_model, without_memory_vectors
from deshi.engine.types import Decision
from deshi.history.reader import HistoryRow
from deshi.history.service import import_history
from deshi.learning import repo
from deshi.learning.registry import config_for
from deshi.learning.service import retrain


def _agent(desk: Desk) -> Agent:
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with desk.registry.agent(session, process) as entry:
            return entry.agent


def _index_arrays(agent: Agent) -> list[np.ndarray]:
    index = agent.memory._base
    assert index is not None and index.uses_shortlist
    rows, tail = index._rows, index._sparse_t
    return [rows.data, rows.indices, rows.indptr, tail.data, tail.indices, index._dense_t]


def _answers(agent: Agent, texts: list[str]) -> list[tuple[object, ...]]:
    """What the agent answers and why, but not the route its threshold gives."""
    return [(d.label, d.confidence, d.alternatives, d.evidence) for d in agent.decide_many(texts)]


def _ties_in_case_order(decisions: list[Decision]) -> list[Decision]:
    """The decisions with each one's evidence in case order among equal similarities. Texts that
    differ only in punctuation have the same vector and tie exactly; two indexes of the same rows
    built in different blocks may list such cases either way round, since BLAS rounds a product
    by its matrix's shape (docs/engine.md, "Search")."""
    return [
        replace(d, evidence=tuple(sorted(d.evidence, key=lambda c: (-c.similarity, c.case_id))))
        for d in decisions
    ]


HISTORY = SHORTLIST_FROM + 100  # imported cases: the memory is searched through a shortlist


def _imported(desk: Desk) -> tuple[list[tuple[str, str]], list[str]]:
    """Import BANKING77 rows as history (the warm start's retrain stores a champion); returns
    other rows to review live, and texts to decide."""
    with BANKING77.open(encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    random.Random(3).shuffle(rows)
    import_history(
        desk.factory,
        actor="user:1",
        process_id=desk.process_id,
        rows=[
            HistoryRow(row=i + 2, text=text, label=label, external_id=f"h{i}")
            for i, (text, label) in enumerate(rows[:HISTORY])
        ],
        registry=desk.registry,
        add_labels=True,
        audit_labels=False,
    )
    return rows[5000:5040], [text for text, _ in rows[6000:6100]]


def test_a_restored_agent_is_the_agent_that_trained(desk: Desk) -> None:
    _, texts = _imported(desk)
    trained = _agent(desk)

    restored = _agent(desk.other_process())

    champion = restored.champion
    assert champion is not None and champion.memory_vectors is not None
    assert champion.memory_vectors.source is restored.memory._base  # not the file's copy
    for got, want in zip(_index_arrays(restored), _index_arrays(trained), strict=True):
        np.testing.assert_array_equal(got, want)
    assert restored.decide_many(texts) == trained.decide_many(texts)
    assert restored.threshold == trained.threshold


def test_a_restore_with_stored_rows_is_the_agent_that_went_on_learning(desk: Desk) -> None:
    # Cases reviewed after the retrain are vectorised, as the recent block of the agent that
    # reviewed them; the rest come from the champion's file.
    live, texts = _imported(desk)
    desk.teach(live)
    learning = _agent(desk)

    restored = _agent(desk.other_process())

    for got, want in zip(_index_arrays(restored), _index_arrays(learning), strict=True):
        np.testing.assert_array_equal(got, want)
    recent, learnt = restored.memory._recent_rows(), learning.memory._recent_rows()
    assert recent is not None and learnt is not None and recent.shape[0] == len(live)
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(recent, part), getattr(learnt, part))
    # Their thresholds differ: a restore recalibrates with the live scores, the agent that
    # went on learning at its next retrain.
    assert _answers(restored, texts) == _answers(learning, texts)

    with transaction(desk.factory) as session:
        artifact = session.scalars(
            select(ModelVersion.artifact).where(ModelVersion.status == ModelStatus.CHAMPION)
        ).one()
        process = session.get_one(Process, desk.process_id)
        observations = repo.load_history(
            session, desk.process_id, default_audit_rate=process.audit_rate
        ).observations
        config = config_for(process)
    stored = load_model(artifact)
    assert stored.memory_vectors is not None and stored.memory_vectors.size == HISTORY
    revectorised = Agent.restore(  # what every restore did before the rows were stored
        config,
        observations,
        versions=[replace(stored, memory_vectors=None)],
        champion_version=stored.version,
    )
    # One index of every case finds the same neighbours here; the threshold is recalibrated
    # on the same live scores.
    assert _ties_in_case_order(restored.decide_many(texts)) == _ties_in_case_order(
        revectorised.decide_many(texts)
    )
    assert restored.threshold == revectorised.threshold


def test_a_retired_champion_keeps_no_memory_rows(desk: Desk) -> None:
    _imported(desk)
    retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)  # a second version
    with transaction(desk.factory) as session:
        stored = {row.version: row for row in session.scalars(select(ModelVersion))}
        [champion] = [n for n, row in stored.items() if row.status is ModelStatus.CHAMPION]
        before = load_model(stored[champion].artifact)
        other = next(n for n in stored if n != champion)
        repo.make_champion(session, desk.process_id, other)  # a rollback retires the champion
    with desk.factory() as session:
        artifact = session.scalars(
            select(ModelVersion.artifact).where(ModelVersion.version == champion)
        ).one()

    retired = load_model(artifact)
    assert before.memory_vectors is not None and retired.memory_vectors is None
    assert (retired.version, retired.threshold) == (before.version, before.threshold)
    assert retired.search_layout is not None  # its search layout stays: no SVD on a rollback
    assert without_memory_vectors(artifact) is None  # nothing left to drop
