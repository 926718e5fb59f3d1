"""UI fixtures: a seeded database, a TestClient on it and, for browser tests, a real uvicorn
server on a free local port with headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_server import serve
from sqlalchemy.orm import Session, sessionmaker
from ui_world import UiWorld, seed

from deshi.auth.passwords import PasswordHasher
from deshi.db import create_db_engine, make_session_factory
from deshi.db.migrate import upgrade_to_head
from deshi.settings import Settings
from deshi.web import create_app
from fakes import CHEAP_HASHING

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def ui_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, UiWorld]]:
    """A migrated SQLite file seeded once per module (seeding trains a model: ~seconds)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'deshi.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory: sessionmaker[Session] = make_session_factory(engine)
    world = seed(factory, password_hasher=PasswordHasher(CHEAP_HASHING))
    engine.dispose()
    yield url, world


@pytest.fixture(scope="module")
def world(ui_db: tuple[str, UiWorld]) -> UiWorld:
    """The seeded ids."""
    return ui_db[1]


@pytest.fixture
def client(ui_db: tuple[str, UiWorld]) -> Iterator[TestClient]:
    """A TestClient on the app over the seeded database."""
    with TestClient(create_app(_settings(ui_db[0]))) as test_client:
        yield test_client


def _settings(url: str) -> Settings:
    return Settings(database_url=url, password_hash_profile=CHEAP_HASHING)


@pytest.fixture(scope="module")
def server(ui_db: tuple[str, UiWorld]) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 serving the seeded database; yields its base URL."""
    with serve(create_app(_settings(ui_db[0]))) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser).

    Absent on a developer machine, the browser tests skip; under CI (where `make test` installs
    it) a missing browser is a failure, never a silent skip.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) with English preferred."""
    context = browser.new_context(base_url=server, locale="en-US")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
