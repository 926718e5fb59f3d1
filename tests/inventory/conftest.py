"""An inventory test world: departments own/other, a user per role with an API token, a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from inventory_world import USERS, Org
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import create_user, grant_role, issue_api_token
from deshi.db import transaction
from deshi.processes.service import create_department
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig


@pytest.fixture
def org(session_factory: sessionmaker[Session]) -> Org:
    """Two departments and one user per role, each with an API token."""
    o = Org()
    with transaction(session_factory) as session:
        own = create_department(session, actor="test", name="Own")
        other = create_department(session, actor="test", name="Other")
        o.own_department, o.other_department = own.id, other.id
        where_ids = {"own": own.id, "other": other.id, None: None}
        for name, (role, where) in USERS.items():
            user = create_user(
                session, actor="test", email=f"{name}@example.com", display_name=name
            )
            grant_role(
                session, actor="test", user_id=user.id, role=role, department_id=where_ids[where]
            )
            o.tokens[name] = issue_api_token(
                session, actor="test", user_id=user.id, name="t"
            ).plaintext
    return o


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """A TestClient on the app serving the migrated test database."""
    app = create_app(Settings(database_url=db_url), config=ApiConfig())
    with TestClient(app) as test_client:
        yield test_client
