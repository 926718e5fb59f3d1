"""Backups that restore: a drill under load on SQLite (and PostgreSQL when configured), and the
refusals that keep a restore from overwriting a workspace by mistake."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from deshi.db import create_db_engine, make_session_factory
from deshi.db.backup import backup_kind
from deshi.db.tables import AuditEvent, Item, ModelVersion, Review
from deshi.learning.service import retrain
from learning.learning_desk import Desk, banking_rows, make_desk

POSTGRES_URL = os.environ.get("DESHI_TEST_DATABASE_URL")


def _deshi(*args: str) -> Result:
    from deshi.cli.main import app

    return CliRunner().invoke(app, list(args), env={"DESHI_AUDIT_KEY": None})


@dataclass(frozen=True)
class Contents:
    """The ids of what a backup must keep."""

    items: frozenset[int]
    reviews: frozenset[int]
    model_versions: frozenset[int]
    events: frozenset[int]

    @classmethod
    def of(cls, factory: sessionmaker[Session]) -> Contents:
        with factory() as session:
            return cls(
                frozenset(session.scalars(select(Item.id))),
                frozenset(session.scalars(select(Review.id))),
                frozenset(session.scalars(select(ModelVersion.id))),
                frozenset(session.scalars(select(AuditEvent.seq))),
            )

    def within(self, other: Contents) -> bool:
        return (
            self.items <= other.items
            and self.reviews <= other.reviews
            and self.model_versions <= other.model_versions
            and self.events <= other.events
        )


class Ingest(threading.Thread):
    """Items decided in a loop, as the API would store them, until stopped."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(daemon=True)
        self.desk, self.stop, self.batches = desk, threading.Event(), 0
        self.first_batch, self.error = threading.Event(), None

    def run(self) -> None:
        texts = [text for text, _ in banking_rows()[:5]]
        try:
            while not self.stop.is_set():
                self.desk.decide(texts)
                self.batches += 1
                self.first_batch.set()
        except Exception as error:  # reported by the test, not lost in the thread
            self.error = error
            self.first_batch.set()


@pytest.fixture
def restore_target(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database
    (created and dropped here) whose search_path names the source's schema."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'deshi.db'}"
        return
    name = f"test_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(db_url.split("?")[0], poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def test_a_backup_taken_under_load_restores_everything_it_held(
    db_url: str, session_factory: sessionmaker[Session], restore_target: str, tmp_path: Path
) -> None:
    desk = make_desk(session_factory)
    desk.teach(banking_rows()[:80])
    retrain(desk.factory, process_id=desk.process_id, registry=desk.registry)
    ingest = Ingest(desk.other_process())
    ingest.start()
    try:
        ingest.first_batch.wait()
        before = Contents.of(session_factory)
        backed_up = _deshi("backup", "--out", str(tmp_path / "deshi.backup"), "--db", db_url)
        after = Contents.of(session_factory)
        batches_during = ingest.batches
    finally:
        ingest.stop.set()
        ingest.join()
    assert ingest.error is None and batches_during > 0 and ingest.is_alive() is False
    assert backed_up.exit_code == 0, backed_up.output
    assert before.model_versions and before.reviews and before.items

    restored = _deshi("restore", str(tmp_path / "deshi.backup"), "--db", restore_target)
    assert restored.exit_code == 0, restored.output
    verified = _deshi("audit", "verify", "--db", restore_target)
    assert verified.exit_code == 0, verified.output

    engine = create_db_engine(restore_target)
    try:
        contents = Contents.of(make_session_factory(engine))
    finally:
        engine.dispose()
    assert before.within(contents) and contents.within(after)
    assert f"intact: {len(contents.events)} events" in verified.output


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(
    db_url: str, session_factory: sessionmaker[Session], restore_target: str, tmp_path: Path
) -> None:
    make_desk(session_factory)
    backup = tmp_path / "deshi.backup"
    assert _deshi("backup", "--out", str(backup), "--db", db_url).exit_code == 0
    assert _deshi("restore", str(backup), "--db", restore_target).exit_code == 0
    again = _deshi("restore", str(backup), "--db", restore_target)
    assert again.exit_code == 1 and "is not empty" in again.output
    forced = _deshi("restore", str(backup), "--db", restore_target, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert '"schema_revision"' in forced.stdout
    assert _deshi("audit", "verify", "--db", restore_target).exit_code == 0


def test_a_file_that_is_no_backup_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    result = _deshi("restore", str(bogus), "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 1 and "is not a deshi backup" in result.output
    assert not (tmp_path / "new.db").exists()


def test_a_sqlite_backup_does_not_restore_into_postgresql(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite half of the pair")
    backup = tmp_path / "deshi.backup"
    assert _deshi("backup", "--out", str(backup), "--db", db_url).exit_code == 0
    assert backup_kind(backup) == "sqlite"
    result = _deshi("restore", str(backup), "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert result.exit_code == 1 and "restores into sqlite only" in result.output


def test_backing_up_a_missing_sqlite_file_fails_without_creating_it(tmp_path: Path) -> None:
    result = _deshi("backup", "--out", str(tmp_path / "b"), "--db", f"sqlite:///{tmp_path}/no.db")
    assert result.exit_code == 1 and "Not a deshi database" in result.output
    assert not (tmp_path / "no.db").exists() and not (tmp_path / "b").exists()


def test_a_backup_never_replaces_something_that_is_not_a_file(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("one backend is enough: the check is before either")
    folder = tmp_path / "already-a-folder"
    folder.mkdir()
    result = _deshi("backup", "--out", str(folder), "--db", db_url)
    assert result.exit_code == 1 and "is not a regular file" in result.output
    assert folder.is_dir()
