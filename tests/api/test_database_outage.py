"""A database that is full or unreachable answers problem+json (507, 503 with Retry-After), names
no driver internals, and leaves nothing half-written."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import is_sqlite
from deshi.db.failures import database_error
from deshi.db.tables import Item
from deshi.errors import StorageFull
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.errors import PROBLEM_JSON

CHEAP_HASHING = "fast-insecure"
DRIVER_WORDS = ("sqlite", "psycopg", "Traceback", "OperationalError", "SELECT", "INSERT")


def _assert_clean_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    assert not [word for word in DRIVER_WORDS if word in response.text]


@pytest.fixture
def full_disk_client(db_url: str, engine: Engine, world: World) -> Iterator[TestClient]:
    """The app on a SQLite file that may not grow by more than a page (as on a full disk)."""
    if not is_sqlite(db_url):
        pytest.skip("the page limit is SQLite's")
    path = make_url(db_url).database

    def cap_growth(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={pages + 1}")
        cursor.close()

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection.execute("PRAGMA database_list").fetchone()[2] == path:
            cap_growth(dbapi_connection, record)

    event.listen(Engine, "connect", on_connect)
    try:
        app = create_app(Settings(database_url=db_url, password_hash_profile=CHEAP_HASHING))
        with TestClient(app) as client:
            yield client
    finally:
        event.remove(Engine, "connect", on_connect)


def test_a_full_disk_is_a_507_and_stores_nothing(
    full_disk_client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['owner']}"}
    batch = {"items": [{"external_id": f"f{i}", "text": "x" * 5000} for i in range(50)]}

    response = full_disk_client.post(
        f"/processes/{world.own_process}/items:batch", json=batch, headers=headers
    )

    _assert_clean_problem(response, 507, "storage_full")
    assert "free disk space" in response.json()["detail"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    reading = full_disk_client.get(f"/processes/{world.own_process}", headers=headers)
    assert reading.status_code == 200


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_is_a_503_with_retry_after() -> None:
    url = f"postgresql+psycopg://deshi@127.0.0.1:{_closed_port()}/deshi?connect_timeout=2"
    app = create_app(Settings(database_url=url, password_hash_profile=CHEAP_HASHING))
    with TestClient(app) as client:
        response = client.get("/processes", headers={"Authorization": "Bearer some-token"})

    _assert_clean_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "5"


def test_other_driver_errors_stay_bugs() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    connection.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as raised:
        connection.execute("INSERT INTO t VALUES (1)")

    assert database_error(SqlIntegrityError("INSERT", {}, raised.value)) is None


def test_a_full_disk_maps_to_storage_full_on_either_driver() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (x TEXT)")
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute("INSERT INTO t VALUES (?)", ("x" * 10_000,))

    assert isinstance(database_error(OperationalError("INSERT", {}, raised.value)), StorageFull)
