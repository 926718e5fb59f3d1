"""A server builds its agents at start (`AgentRegistry.warm`, `ApiConfig.warm_agents`), so the
first answer after a restart does not wait for a restore, and keeps them up to date
(`AgentRegistry.refresh`), so the first answer after a retrain made elsewhere does not wait for
the new versions to be taken in."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from learning_desk import Desk, banking_rows
from sqlalchemy import select

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.base import utcnow
from deshi.db.tables import ModelVersion, Process
from deshi.learning import repo
from deshi.learning.registry import AgentRegistry
from deshi.learning.service import retrain
from deshi.processes.service import create_process
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig


@pytest.fixture
def taught(desk: Desk) -> Desk:
    """The desk's process with stored model versions, and a second process with none."""
    desk.teach(banking_rows()[:60])
    with transaction(desk.factory) as session:
        department_id = session.get_one(Process, desk.process_id).department_id
        create_process(
            session, actor="user:1", department_id=department_id, name="untrained", labels=["a"]
        )
    return desk


def test_warm_builds_each_active_process_that_has_a_model(taught: Desk) -> None:
    registry = AgentRegistry()

    assert registry.warm(taught.factory) == 1

    assert registry.loaded() == {taught.process_id}
    warmed = Desk(taught.factory, taught.process_id, taught.reviewer_id, registry, 2 * 10**6)
    [(_, decision)] = warmed.decide(["Where is my card?"])
    [(_, cold)] = taught.other_process().decide(["Where is my card?"])
    assert (decision.label, decision.confidence) == (cold.label, cold.confidence)


def test_archived_processes_are_not_built(taught: Desk) -> None:
    with transaction(taught.factory) as session:
        session.get_one(Process, taught.process_id).archived_at = utcnow()
    registry = AgentRegistry()

    assert registry.warm(taught.factory) == 0
    assert registry.loaded() == frozenset()


def test_a_process_that_cannot_be_built_is_logged_and_skipped(
    taught: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    with taught.factory.begin() as session:
        for version in session.scalars(select(ModelVersion)):
            version.artifact = b"not a model"
    registry = AgentRegistry()

    with caplog.at_level(logging.ERROR, logger="deshi.learning"):
        assert registry.warm(taught.factory) == 0

    assert f"could not build the agent of process {taught.process_id}" in caplog.text
    assert registry.loaded() == frozenset()


def test_a_stopped_warmup_builds_nothing_more(taught: Desk) -> None:
    stop = threading.Event()
    stop.set()

    assert AgentRegistry().warm(taught.factory, stop) == 0


def test_the_server_warms_its_agents_at_start(taught: Desk, db_url: str) -> None:
    registry = AgentRegistry()
    app = create_app(
        Settings(database_url=db_url), config=ApiConfig(warm_agents=True), registry=registry
    )

    with TestClient(app):
        app.state.agent_upkeep.join(timeout=120)  # no refresh asked: done once built
        assert not app.state.agent_upkeep.is_alive()
        assert registry.loaded() == {taught.process_id}


def test_without_the_setting_nothing_is_built_at_start(taught: Desk, db_url: str) -> None:
    registry = AgentRegistry()
    app = create_app(Settings(database_url=db_url), config=ApiConfig(), registry=registry)

    with TestClient(app):
        assert not hasattr(app.state, "agent_upkeep")
        assert registry.loaded() == frozenset()


def test_a_database_without_tables_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    factory = make_session_factory(create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}"))

    with caplog.at_level(logging.ERROR, logger="deshi.learning"):
        assert AgentRegistry().warm(factory) == 0

    assert "could not list the processes" in caplog.text


def test_a_long_running_server_releases_freed_memory_until_it_stops(db_url: str) -> None:
    app = create_app(Settings(database_url=db_url), config=ApiConfig(heap_release_seconds=0.01))

    with TestClient(app):
        assert app.state.heap_release.is_alive()
        assert app.state.heap_release.name == "deshi-heap-release"
    app.state.heap_release.join(timeout=30)
    assert not app.state.heap_release.is_alive()


def test_serve_releases_memory_as_often_as_the_settings_say() -> None:
    settings = Settings(database_url="sqlite://", heap_release_seconds=30)

    serving = ApiConfig.from_settings(settings, long_running=True)
    assert serving.heap_release_seconds == 30 and serving.warm_agents and serving.freeze_gc
    assert serving.agent_refresh_seconds == 5.0  # the setting's default
    assert ApiConfig.from_settings(settings).heap_release_seconds == 0
    assert ApiConfig.from_settings(settings).agent_refresh_seconds == 0


def _stored_state(desk: Desk) -> repo.VersionState:
    with desk.factory() as session:
        return repo.version_state(session, desk.process_id)


def _retrain_elsewhere(desk: Desk) -> repo.VersionState:
    """New reviews and a retrain through the desk's own registry, as a worker would make them."""
    desk.teach(banking_rows()[60:120])
    retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    return _stored_state(desk)


def test_refresh_takes_in_a_version_stored_elsewhere_before_any_request(taught: Desk) -> None:
    server = AgentRegistry()
    server.warm(taught.factory)
    built = server.held_state(taught.process_id)

    stored = _retrain_elsewhere(taught)
    assert server.held_state(taught.process_id) == built != stored  # nothing used it yet

    assert server.refresh(taught.factory) == 1
    assert server.held_state(taught.process_id) == stored


def test_refresh_leaves_archived_processes_alone(taught: Desk) -> None:
    server = AgentRegistry()
    server.warm(taught.factory)
    with transaction(taught.factory) as session:
        session.get_one(Process, taught.process_id).archived_at = utcnow()

    assert server.refresh(taught.factory) == 0


def test_a_server_keeps_its_agents_current_until_it_stops(taught: Desk) -> None:
    server, stop = AgentRegistry(), threading.Event()
    upkeep = threading.Thread(target=server.keep_current, args=(taught.factory, stop, 0.05))
    upkeep.start()
    try:
        stored = _retrain_elsewhere(taught)
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a speed claim
        while server.held_state(taught.process_id) != stored and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.held_state(taught.process_id) == stored
    finally:
        stop.set()
        upkeep.join(timeout=60)
    assert not upkeep.is_alive()
