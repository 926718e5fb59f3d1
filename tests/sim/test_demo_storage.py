"""How `deshi demo` uses its SQLite file: relaxed durability while it builds, one commit per
visit of the reviewers, and a durable file without planner statistics once it is done."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from deshi.db import create_db_engine, make_session_factory
from deshi.db.tables import Review
from deshi.sim.demo import DemoConfig, run_demo
from deshi.sim.demo_workspace import relax_durability

SYNCHRONOUS_OFF, SYNCHRONOUS_FULL = 0, 2


@pytest.fixture
def commits() -> Iterator[list[int]]:
    """Counts the commits of every engine made while the test runs."""
    seen: list[int] = []

    def count(_connection: Any) -> None:
        seen.append(1)

    event.listen(Engine, "commit", count)
    yield seen
    event.remove(Engine, "commit", count)


def _synchronous(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_only_the_demo_engine_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deshi.db'}"
    demo, server = create_db_engine(url), create_db_engine(url)
    relax_durability(demo)
    try:
        assert _synchronous(demo) == SYNCHRONOUS_OFF
        assert _synchronous(server) == SYNCHRONOUS_FULL  # what `deshi serve` opens afterwards
    finally:
        demo.dispose()
        server.dispose()


def test_a_visit_of_the_reviewers_commits_once_and_the_file_is_left_durable(
    tmp_path: Path, commits: list[int]
) -> None:
    config = DemoConfig(
        workspace=tmp_path / "ws", weeks=1, items_per_week=100, history=0, keep_open=0
    )
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    result = run_demo(config, now=now)

    engine = create_db_engine(result.database_url)
    try:
        with make_session_factory(engine)() as session:
            reviews = session.scalar(select(func.count()).select_from(Review)) or 0
    finally:
        engine.dispose()
    visits = 100 // config.batch_size
    assert reviews == 100 - result.summary["items"]["auto_completed"]
    assert reviews > visits
    # setup, 5 × (ingest, its backdating, one visit), statistics, summary: not one per answer
    assert len(commits) < reviews / 4, (len(commits), reviews)

    db_path = config.workspace / "deshi.db"
    wal = db_path.with_name("deshi.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # everything is in the database file
    with closing(sqlite3.connect(db_path)) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert "sqlite_stat1" not in tables  # served like any deshi database, without them
