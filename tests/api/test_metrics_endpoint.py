"""`GET /metrics`: off by default, behind a bearer token, and every metric counts what happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import World
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import (
    DeliveryStatus,
    Item,
    Job,
    ModelVersion,
    Webhook,
    WebhookDelivery,
)
from deshi.domain import ItemStatus, ModelStatus
from deshi.jobs.queue import enqueue
from deshi.learning.registry import AgentRegistry
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.config import ApiConfig
from fakes import CHEAP_HASHING

TOKEN = "m" * 40
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(
    db_url: str, engine: Engine, app_config: ApiConfig, registry: AgentRegistry
) -> Iterator[TestClient]:
    """The app with metrics on."""
    settings = Settings(
        database_url=db_url,
        password_hash_profile=CHEAP_HASHING,
        metrics_enabled=True,
        metrics_token=TOKEN,
    )
    with TestClient(create_app(settings, config=app_config, registry=registry)) as test_client:
        yield test_client


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by name and labels."""
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_by_default(db_url: str, engine: Engine) -> None:
    app = create_app(Settings(database_url=db_url, password_hash_profile=CHEAP_HASHING))
    with TestClient(app) as client:
        response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_metrics_need_a_long_token_when_enabled() -> None:
    with pytest.raises(ValidationError, match="DESHI_METRICS_TOKEN"):
        Settings(metrics_enabled=True)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(metrics_enabled=True, metrics_token="short")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer " + "x" * 40}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong", "not-bearer"],
)
def test_metrics_refuse_a_scraper_without_the_token(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_an_api_token_does_not_open_metrics(client: TestClient, world: World) -> None:
    assert client.get("/metrics", headers=world.auth("workspace_admin")).status_code == 401


def test_items_are_counted_by_process_and_route(client: TestClient, world: World) -> None:
    body = {"items": [{"external_id": f"B-{i}", "text": f"my card {i}"} for i in range(5)]}
    url = f"/processes/{world.own_process}/items:batch"
    assert client.post(url, json=body, headers=world.auth("owner")).status_code == 201
    one = {"external_id": "S-1", "text": "where is my card"}
    single = f"/processes/{world.own_process}/items"
    assert client.post(single, json=one, headers=world.auth("owner")).status_code == 201
    assert client.post(single, json=one, headers=world.auth("owner")).status_code == 200  # again

    scrape = samples(client)
    process = str(world.own_process)
    decided = {
        route: value(scrape, "deshi_items_decided_total", process=process, route=route)
        for route in ("auto", "audit", "review")
    }
    assert sum(decided.values()) == 6  # the re-sent item was not decided twice
    assert decided["review"] == 6  # a new process has no model yet: everything goes to people
    assert value(scrape, "deshi_decision_duration_seconds_count", batch="true") == 1
    assert value(scrape, "deshi_decision_duration_seconds_count", batch="false") == 2


def test_request_latency_is_labelled_by_route_template(client: TestClient, world: World) -> None:
    for item_id in (1, 2, 3):
        client.get(f"/items/{item_id}", headers=world.auth("owner"))
    client.get("/no/such/path/42")
    assert client.get("/static/app.css").status_code == 200
    scrape = samples(client)
    count = "deshi_http_request_duration_seconds_count"
    assert value(scrape, count, method="GET", route="/items/{item_id}") == 3
    assert value(scrape, count, method="GET", route="unmatched") == 1
    assert value(scrape, count, method="GET", route="/static/{path}") == 1
    assert not any("/items/1" in dict(labels).get("route", "") for _, labels in scrape)
    assert (
        value(scrape, "deshi_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )


def test_queue_depth_and_age_come_from_the_database(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    body = {"items": [{"external_id": f"Q-{i}", "text": f"card {i}"} for i in range(3)]}
    client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    with session_factory() as session:
        queued = session.scalar(
            select(func.count()).where(
                Item.process_id == world.own_process, Item.status == ItemStatus.QUEUED
            )
        )
    scrape = samples(client)
    assert queued == 3
    assert value(scrape, "deshi_queue_depth", process=str(world.own_process)) == 3
    assert value(scrape, "deshi_queue_depth", process=str(world.other_process)) == 0
    assert ("deshi_queue_depth", frozenset({("process", str(world.other_process))})) in scrape
    assert value(scrape, "deshi_queue_oldest_age_seconds", process=str(world.own_process)) >= 0
    assert value(scrape, "deshi_metrics_database_up") == 1


def test_jobs_webhook_failures_and_retrain_durations(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        hook = Webhook(process_id=world.own_process, url="https://example.com/h", secret="s")
        session.add(hook)
        session.flush()
        for status, error in (
            (DeliveryStatus.FAILED, "refused: 127.0.0.1 is a loopback address"),
            (DeliveryStatus.FAILED, "HTTP 500"),
            (DeliveryStatus.DELIVERED, None),
        ):
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id, event="item.decided", status=status, last_error=error
                )
            )
        enqueue(session, kind="learning.retrain", payload={"process_id": world.own_process})
        for version, seconds in ((1, 0.3), (2, 42.0)):
            session.add(
                ModelVersion(
                    process_id=world.own_process,
                    version=version,
                    status=ModelStatus.CHALLENGER,
                    artifact=b"",
                    metrics={"seconds": seconds},
                    trained_on=10,
                )
            )
    scrape = samples(client)
    assert value(scrape, "deshi_webhook_deliveries_failed", process=str(world.own_process)) == 2
    assert value(scrape, "deshi_webhook_deliveries_refused") == 1
    assert value(scrape, "deshi_jobs", kind="learning.retrain", status="queued") == 1
    assert value(scrape, "deshi_retrain_duration_seconds_count") == 2
    assert value(scrape, "deshi_retrain_duration_seconds_sum") == pytest.approx(42.3)
    assert value(scrape, "deshi_retrain_duration_seconds_bucket", le="0.5") == 1
    assert value(scrape, "deshi_retrain_duration_seconds_bucket", le="60.0") == 2
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_monitor_state_of_each_loaded_agent(client: TestClient, world: World) -> None:
    assert not any(name == "deshi_audit_monitor_state" for name, _ in samples(client))
    body = {"external_id": "M-1", "text": "card"}
    client.post(f"/processes/{world.own_process}/items", json=body, headers=world.auth("owner"))
    scrape = samples(client)
    process = str(world.own_process)
    assert value(scrape, "deshi_audit_monitor_state", process=process, state="ok") == 1
    assert value(scrape, "deshi_audit_monitor_state", process=process, state="suspended") == 0
    assert (
        "deshi_audit_monitor_state",
        frozenset({("process", process), ("state", "at_risk")}),
    ) in scrape


def test_a_scrape_without_the_database_says_so_and_still_answers(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "deshi.db"
    settings = Settings(
        database_url=f"sqlite:///{missing}",
        password_hash_profile=CHEAP_HASHING,
        metrics_enabled=True,
        metrics_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        scrape = samples(client)
    assert value(scrape, "deshi_metrics_database_up") == 0
    assert not any(name.startswith("deshi_queue") for name, _ in scrape)
