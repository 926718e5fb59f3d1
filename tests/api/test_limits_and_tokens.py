"""Limits come from the settings; a token's last use is written at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import LAST_USED_RESOLUTION
from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import ApiToken
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig


@pytest.fixture
def small_client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """An app whose limits are set through Settings, as the DESHI_* variables would."""
    settings = Settings(database_url=db_url, max_text_chars=10, max_batch_items=2, lease_seconds=42)
    with TestClient(create_app(settings)) as client:
        yield client


def test_default_api_config_matches_default_settings() -> None:
    assert ApiConfig.from_settings(Settings()) == ApiConfig()


def test_settings_limit_text_length_and_batch_size(small_client: TestClient, world: World) -> None:
    owner, path = world.auth("owner"), f"/processes/{world.own_process}/items"
    long_text = small_client.post(path, json={"text": "x" * 11}, headers=owner)
    assert (long_text.status_code, long_text.json()["field"]) == (422, "text")
    body = {"items": [{"text": "card?"}] * 3}
    too_many = small_client.post(f"{path}:batch", json=body, headers=owner)
    assert (too_many.status_code, too_many.json()["field"]) == (422, "items")
    body = {"items": [{"text": "card?"}] * 2}
    assert small_client.post(f"{path}:batch", json=body, headers=owner).status_code == 201


def test_settings_set_the_lease_length(small_client: TestClient, world: World) -> None:
    path = f"/processes/{world.own_process}"
    small_client.post(f"{path}/items", json={"text": "card?"}, headers=world.auth("owner"))
    before = utcnow()
    claimed = small_client.post(f"{path}/queue/claim", headers=world.auth("reviewer")).json()
    granted = datetime.fromisoformat(claimed["lease_expires_at"])
    assert timedelta(seconds=41) < granted - before <= timedelta(seconds=43)


def _last_used(factory: sessionmaker[Session], user_id: int) -> datetime | None:
    with factory() as session:
        query = select(ApiToken.last_used_at).where(ApiToken.user_id == user_id)
        return session.scalars(query).one()


def test_token_last_use_is_written_at_most_once_a_minute(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    user_id = world.user_ids["auditor"]
    assert client.get("/processes", headers=world.auth("auditor")).status_code == 200
    first = _last_used(session_factory, user_id)
    assert first is not None
    assert client.get("/processes", headers=world.auth("auditor")).status_code == 200
    assert _last_used(session_factory, user_id) == first
    with transaction(session_factory) as session:
        stale = utcnow() - LAST_USED_RESOLUTION - timedelta(seconds=1)
        session.execute(
            update(ApiToken).where(ApiToken.user_id == user_id).values(last_used_at=stale)
        )
    assert client.get("/processes", headers=world.auth("auditor")).status_code == 200
    latest = _last_used(session_factory, user_id)
    assert latest is not None and latest > stale
