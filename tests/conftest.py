"""Database fixtures: a fresh SQLite file per test and, when DESHI_TEST_DATABASE_URL is set, the
same tests again on PostgreSQL, each in a schema of its own (safe under pytest-xdist)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from deshi.db import create_db_engine, make_session_factory
from deshi.db.migrate import upgrade_to_head

# Retrains run in the worker's own thread in the tests, as they did before child processes
# (a spawned child imports deshi afresh: seconds per retrain, and a test's decider factory must
# be picklable). tests/learning/test_isolated_retrain.py runs the child processes themselves.
os.environ.setdefault("DESHI_ISOLATE_RETRAINS", "false")

POSTGRES_URL = os.environ.get("DESHI_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _postgres_schema_url(base_url: str) -> Iterator[str]:
    """Create a uniquely named schema, yield a URL whose search_path points at it, drop it."""
    schema = f"deshi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{os.path.join(tmp_path, 'deshi.db')}"
    else:
        assert POSTGRES_URL is not None
        yield from _postgres_schema_url(POSTGRES_URL)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision."""
    eng = create_db_engine(db_url)
    upgrade_to_head(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated database."""
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session; tests commit explicitly when they need to (it is rolled back otherwise)."""
    with session_factory() as s:
        yield s
