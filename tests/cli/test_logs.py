"""Logs of `deshi serve` / `deshi worker`: JSON or text, each request's lines under its id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deshi.db import create_db_engine
from deshi.db.migrate import upgrade_to_head
from deshi.logs import configure_logging
from deshi.settings import Settings
from deshi.web import create_app


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    """Put the `deshi` and uvicorn loggers back as they were."""
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
        for name in ("deshi", "uvicorn")
    }
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


def _app_client(directory: Path) -> TestClient:
    url = f"sqlite:///{directory / 'deshi.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    return TestClient(create_app(Settings(database_url=url, password_hash_profile="fast-insecure")))


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    with _app_client(tmp_path) as client:
        yield client


def test_library_code_configures_no_logging(tmp_path: Path) -> None:
    names = ("", "deshi", "deshi.http", "deshi.jobs", "uvicorn")
    before = {name: list(logging.getLogger(name).handlers) for name in names}
    with _app_client(tmp_path) as client:
        client.get("/healthz")
    assert {name: list(logging.getLogger(name).handlers) for name in names} == before


@pytest.mark.usefixtures("restore_loggers")
def test_json_lines_carry_the_request_id_and_the_route(app_client: TestClient) -> None:
    out = io.StringIO()
    configure_logging(log_format="json", level="INFO", stream=out)
    app_client.get("/items/7", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [access] = [line for line in lines if line["logger"] == "deshi.http"]
    assert access["request_id"] == "req-42"
    assert access["route"] == "/items/{item_id}"
    assert access["path"] == "/items/7"
    assert access["status"] == 401  # no credentials
    assert access["level"] == "INFO"
    assert access["duration_ms"] >= 0


@pytest.mark.usefixtures("restore_loggers")
def test_text_lines_carry_the_request_id(app_client: TestClient) -> None:
    out = io.StringIO()
    configure_logging(log_format="text", level="INFO", stream=out)
    app_client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    logging.getLogger("deshi.jobs").info("outside any request")
    access, outside = out.getvalue().splitlines()[-2:]
    assert "INFO deshi.http [abc-1] GET /healthz 200" in access
    assert "INFO deshi.jobs [-] outside any request" in outside


@pytest.mark.usefixtures("restore_loggers")
def test_configuring_twice_keeps_one_handler_and_honours_the_level() -> None:
    out = io.StringIO()
    configure_logging(log_format="text", level="INFO", stream=io.StringIO())
    configure_logging(log_format="json", level="WARNING", stream=out)
    logging.getLogger("deshi.jobs").info("not written")
    logging.getLogger("deshi.jobs").warning("written")
    assert [h for h in logging.getLogger("deshi").handlers if h.stream is out] == logging.getLogger(
        "deshi"
    ).handlers
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["written"]
