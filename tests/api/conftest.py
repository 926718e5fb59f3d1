"""An API test world: two departments, a user per role, an API token each, a process each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_world import LABELS, PASSWORD, USERS, World
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import transaction
from deshi.engine import LinearDecider
from deshi.engine.training import DeciderFactory
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import create_department, create_process
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig
from knowledge_fakes import fake_index

CHEAP_HASHING = "fast-insecure"  # argon2id at tiny costs: same code paths, a hundredth of the time


@pytest.fixture
def world(engine: Engine, session_factory: sessionmaker[Session]) -> World:
    """Departments own/other, one user per role with a token, a process in each department."""
    w = World()
    with transaction(session_factory) as session:
        own = create_department(session, actor="test", name="Own")
        other = create_department(session, actor="test", name="Other")
        w.own_department, w.other_department = own.id, other.id
        departments = {"own": own.id, "other": other.id, None: None}
        for name, (role, where) in USERS.items():
            user = create_user(
                session,
                actor="test",
                email=f"{name}@example.com",
                display_name=name,
                password=PASSWORD,
                password_hasher=PasswordHasher(CHEAP_HASHING),
            )
            grant_role(
                session, actor="test", user_id=user.id, role=role, department_id=departments[where]
            )
            w.tokens[name] = issue_api_token(
                session, actor="test", user_id=user.id, name="t"
            ).plaintext
            w.user_ids[name] = user.id
        w.own_process = create_process(
            session, actor="test", department_id=own.id, name="routing", labels=LABELS
        ).id
        w.other_process = create_process(
            session, actor="test", department_id=other.id, name="routing", labels=LABELS
        ).id
    return w


@pytest.fixture
def app_config() -> ApiConfig:
    """The API configuration under test (override in a module to change limits)."""
    return ApiConfig()


@pytest.fixture
def make_decider() -> DeciderFactory:
    """The decider the app's agents fit (override in a module to inject a fake one)."""
    return LinearDecider


@pytest.fixture
def registry(make_decider: DeciderFactory) -> AgentRegistry:
    """The app's agent registry, new for each test (each test's database starts at process 1)."""
    return AgentRegistry(make_decider=make_decider)


@pytest.fixture
def client(
    db_url: str, engine: Engine, app_config: ApiConfig, registry: AgentRegistry
) -> Iterator[TestClient]:
    """A TestClient on the app serving the test database (migrated by `engine`)."""
    settings = Settings(database_url=db_url, password_hash_profile=CHEAP_HASHING)
    app = create_app(settings, config=app_config, registry=registry)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> TestClient:
    """The test client with the instant embedder in the app's knowledge index (the knowledge,
    passages and drafts tests; a module may define its own `api`)."""
    client.app.state.knowledge = fake_index()  # type: ignore[attr-defined]
    return client
