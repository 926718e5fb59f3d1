"""How a registry builds an agent where it holds none (a restarted server, a fresh worker):
the cycle collector paused while it builds, and on PostgreSQL the model files read on a
connection of their own while the history is read (docs/benchmarks.md, "Agent restore")."""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest
from learning_desk import Desk, banking_rows
from sqlalchemy import select

from deshi.db import transaction
from deshi.db.tables import ModelVersion, Process
from deshi.domain import ModelStatus
from deshi.engine import Agent
from deshi.engine.serialize import dump_model, load_model
from deshi.learning import registry as registry_module
from deshi.learning import repo
from deshi.learning.registry import AgentRegistry


def _built(desk: Desk, registry: AgentRegistry) -> Agent:
    with transaction(desk.factory) as session:
        process = session.get_one(Process, desk.process_id)
        with registry.agent(session, process) as entry:
            return entry.agent


def _is_postgres(desk: Desk) -> bool:
    with desk.factory() as session:
        return session.get_bind().dialect.name == "postgresql"


def test_the_cycle_collector_is_paused_while_an_agent_is_built(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.teach(banking_rows()[:60])
    enabled_while_reading: list[bool] = []
    real = repo.load_history

    def recording(*args: object, **kwargs: object) -> repo.History:
        enabled_while_reading.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repo, "load_history", recording)
    assert gc.isenabled()

    agent = _built(desk, AgentRegistry())

    assert enabled_while_reading == [False]
    assert gc.isenabled()
    assert agent.champion is not None


def test_a_collector_that_was_off_stays_off(desk: Desk) -> None:
    desk.teach(banking_rows()[:60])
    gc.disable()
    try:
        _built(desk, AgentRegistry())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_runs_again_when_the_last_of_overlapping_builds_ends() -> None:
    # Builds in two threads: the first to end must not turn it on under the other.
    pause = registry_module._CycleCollectionPause()
    first, second = pause(), pause()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_on_postgresql_the_model_files_are_read_on_a_connection_of_their_own(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.teach(banking_rows()[:60])
    read_aside: list[list[int]] = []
    real = registry_module._artifacts_aside

    def recording(engine: object, process_id: int, versions: list[int]) -> object:
        read_aside.append(versions)
        return real(engine, process_id, versions)  # type: ignore[arg-type]

    monkeypatch.setattr(registry_module, "_artifacts_aside", recording)
    with desk.factory() as session:
        state = repo.version_state(session, desk.process_id)

    agent = _built(desk, AgentRegistry())

    assert agent.champion is not None and agent.champion.version == state.champion
    if _is_postgres(desk):
        assert read_aside == [sorted({v.version for v in agent.versions})]
    else:  # SQLite reads a file of its own in a fraction of PostgreSQL's time
        assert read_aside == []


def test_a_champion_the_session_has_not_committed_is_read_in_the_session(desk: Desk) -> None:
    # Another connection cannot see it (PostgreSQL), so the session reads the files itself.
    desk.teach(banking_rows()[:60])
    with transaction(desk.factory) as session:
        champion = session.scalars(
            select(ModelVersion).where(ModelVersion.status == ModelStatus.CHAMPION)
        ).one()
        newest = repo.version_state(session, desk.process_id).latest
        assert newest is not None
        model = load_model(champion.artifact)
        stored = repo.insert_version(
            session,
            process_id=desk.process_id,
            version=newest + 1,
            status=ModelStatus.CHALLENGER,
            artifact=dump_model(replace(model, version=newest + 1)),
            metrics={},
            threshold=model.threshold,
            trained_on=model.trained_on,
        )
        assert stored is not None
        repo.make_champion(session, desk.process_id, newest + 1)
        process = session.get_one(Process, desk.process_id)
        with AgentRegistry().agent(session, process) as entry:
            assert entry.agent.champion is not None
            assert entry.agent.champion.version == newest + 1
        session.rollback()
