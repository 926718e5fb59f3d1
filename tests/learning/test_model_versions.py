from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest
from learning_desk import Desk, banking_rows
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deshi.cli.main import app
from deshi.db import transaction
from deshi.db.tables import AuditEvent, Job, JobStatus, ModelVersion, Process, Review
from deshi.domain import ModelStatus
from deshi.engine import Agent
from deshi.engine.agent import RESIDENT_VERSIONS
from deshi.engine.learn import LinearDecider
from deshi.errors import Conflict, NotFound
from deshi.jobs.worker import Worker
from deshi.learning.jobs import retrain_handler
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import RETRAIN_JOB, retrain, rollback
from deshi.settings import Settings
from deshi.web.background import start_background_worker


def _champion(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalars(
            select(ModelVersion.version).where(ModelVersion.status == ModelStatus.CHAMPION)
        ).one()


def test_rollback_restores_the_old_champion_and_is_audited(desk: Desk) -> None:
    desk.teach(banking_rows()[:100])
    retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    before = _champion(desk.factory)
    target = 1 if before != 1 else 2
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        rollback(session, process=process, version=target, actor="user:9")
    assert _champion(desk.factory) == target
    [(_, decision)] = desk.other_process().decide(["Where is my card?"])
    [(_, same_desk)] = desk.decide(["Where is my card?"])
    assert decision.model_version == same_desk.model_version == target
    with desk.factory() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "model.rollback")
        ).one()
        assert event.actor == "user:9"
        assert event.before == {"champion_version": before}
        assert event.after == {"champion_version": target}
        process = session.get_one(Process, desk.process_id)
        with pytest.raises(Conflict):
            rollback(session, process=process, version=target, actor="user:9")
        with pytest.raises(NotFound):
            rollback(session, process=process, version=99, actor="user:9")


def test_agents_hold_recent_versions_and_roll_back_to_any_stored_one(desk: Desk) -> None:
    desk.teach(banking_rows()[:60])
    for _ in range(3):  # versions 2-4 on top of the bootstrap's version 1
        retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    champion = _champion(desk.factory)
    fresh = desk.other_process()
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with fresh.registry.agent(session, process) as entry:
            held = {model.version for model in entry.agent.versions}
        assert RESIDENT_VERSIONS == 1
        newest_other = 4 if champion != 4 else 3
        assert held == {newest_other, champion}  # not every version
        target = 1 if champion != 1 else 2
        rollback(session, process=process, version=target, actor="user:9")
    [(_, decision)] = fresh.decide(["Where is my card?"])
    assert decision.model_version == target  # loaded from the database, not from memory


def _agent_of(desk: Desk) -> Agent:
    with transaction(desk.factory, lock_early=False) as session:
        process = session.get_one(Process, desk.process_id)
        with desk.registry.agent(session, process) as entry:
            return entry.agent


def test_a_version_stored_elsewhere_is_taken_into_the_agent_in_memory(desk: Desk) -> None:
    rows = banking_rows()
    desk.teach(rows[:90])
    server = desk.other_process()
    held = _agent_of(server)
    desk.teach(rows[90:150])
    report = retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    champion = _champion(desk.factory)

    after = _agent_of(server)

    assert after is held  # not rebuilt from the history
    assert report.version in {model.version for model in after.versions}
    assert after.champion is not None and after.champion.version == champion
    restored = _agent_of(desk.other_process())
    assert len(after.observations) == len(restored.observations) == 150
    probes = [text for text, _ in rows[150:]]
    assert after.decide_many(probes) == restored.decide_many(probes)
    assert after.threshold == restored.threshold


def test_model_commands_list_retrain_and_roll_back(desk: Desk, db_url: str) -> None:
    desk.teach(banking_rows()[:60])
    runner = CliRunner()
    process = str(desk.process_id)
    retrained = runner.invoke(app, ["model", "retrain", "--process", process, "--db", db_url])
    assert retrained.exit_code == 0, retrained.output
    assert "version 2 trained on 60 items" in retrained.output
    with desk.factory() as session:
        stored = session.scalars(select(ModelVersion).where(ModelVersion.version == 2)).one()
    # Nothing is certified on 60 items, so accuracy alone decided (no contest at δ/2).
    assert stored.metrics["contested"] is False and "promoted" in stored.metrics
    listed = runner.invoke(app, ["model", "list", "--process", process, "--db", db_url])
    assert listed.exit_code == 0 and "champion" in listed.output
    other = 1 if _champion(desk.factory) == 2 else 2
    args = ["model", "rollback", "--process", process, "--version", str(other), "--db", db_url]
    rolled = runner.invoke(app, args)
    assert rolled.exit_code == 0, rolled.output
    assert _champion(desk.factory) == other
    missing = runner.invoke(app, ["model", "list", "--process", "999", "--db", db_url])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_background_worker_runs_the_queued_retrain(desk: Desk, db_url: str) -> None:
    desk.teach(banking_rows()[:40])
    settings = Settings(database_url=db_url)
    handle = start_background_worker(settings, registry=AgentRegistry(), poll_seconds=0.05)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with desk.factory() as session:
                statuses = set(session.scalars(select(Job.status).where(Job.kind == RETRAIN_JOB)))
                if statuses == {JobStatus.DONE}:
                    break
            time.sleep(0.1)
    finally:
        handle.stop()
    with desk.factory() as session:
        versions = session.scalars(select(ModelVersion.version)).all()
    assert statuses == {JobStatus.DONE} and len(versions) >= 2


class ReviewedWhileFitting(LinearDecider):
    """A decider whose next fit is accompanied by a review committed in another process."""

    elsewhere: ClassVar[Desk | None] = None

    def fit(self, *args: Any, **kwargs: Any) -> LinearDecider:
        fitted = super().fit(*args, **kwargs)
        desk, ReviewedWhileFitting.elsewhere = ReviewedWhileFitting.elsewhere, None
        if desk is not None:
            [(item_id, _)] = desk.decide(["Where is my card?"])
            desk.review(item_id, "card_arrival")
        return fitted


def test_retrain_job_survives_writes_committed_while_it_trains(desk: Desk) -> None:
    # On SQLite a job that read, trained and then wrote in one transaction failed whenever
    # anyone committed meanwhile (a stale snapshot); the model now trains with none open.
    desk.teach(banking_rows()[:40])
    ReviewedWhileFitting.elsewhere = desk.other_process()
    registry = AgentRegistry(make_decider=ReviewedWhileFitting)
    assert Worker(desk.factory, {RETRAIN_JOB: retrain_handler(registry)}).run_once() is not None
    with desk.factory() as session:
        first = select(Job).where(Job.kind == RETRAIN_JOB).order_by(Job.id)
        job = session.scalars(first).first()
        versions = session.scalars(select(ModelVersion.version)).all()
        reviews = session.scalars(select(Review.id)).all()
    assert ReviewedWhileFitting.elsewhere is None and len(reviews) == 41  # the review was made
    assert job is not None
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
    assert sorted(versions) == [1, 2]


def test_retrain_job_keeps_no_agent_in_the_worker_between_jobs(desk: Desk) -> None:
    # A worker's agent is a second copy of the API's (case memory and resident versions): kept,
    # one per process ever retrained, it grew the server's memory with every retrain (#24).
    desk.teach(banking_rows()[:40])
    registry = AgentRegistry()
    worker = Worker(desk.factory, {RETRAIN_JOB: retrain_handler(registry)})
    assert worker.run_once() is not None
    assert registry.monitor_states() == {}
    desk.teach(banking_rows()[40:120])
    assert worker.run_until_idle() >= 1  # the next job rebuilds the agent from the database
    assert registry.monitor_states() == {}
    with desk.factory() as session:
        jobs = session.scalars(select(Job.status).where(Job.kind == RETRAIN_JOB)).all()
        versions = session.scalars(select(ModelVersion.version)).all()
    assert set(jobs) == {JobStatus.DONE}
    assert len(versions) >= 3
