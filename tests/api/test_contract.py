"""The API keeps its contract: schemathesis drives every operation of the OpenAPI document with
generated requests, valid and invalid, against the app on a real database with real objects, and
each answer must be no server error, with a documented status, content type and body.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same
requests on every run), no shrinking and no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from api_world import World
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from deshi.learning.registry import AgentRegistry
from deshi.settings import Settings
from deshi.web import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 20
AUDIT_KEY = "contract-test-audit-key-" + "k" * 32


def _seed(client: TestClient, world: World) -> dict[str, int]:
    """Objects for the generated requests to hit: items (one claimed by the caller, so review
    and release find a lease), an inventory candidate and a webhook. Path ids → stored ids."""
    auth = world.auth("workspace_admin")
    process = world.own_process
    texts = ["my card has not arrived", "I lost my card", "what rate do you use", "top up failed"]
    batch = {"items": [{"text": t, "external_id": f"seed-{i}"} for i, t in enumerate(texts)]}
    r = client.post(f"/processes/{process}/items:batch", json=batch, headers=auth)
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]["id"]
    claimed = client.post(f"/processes/{process}/queue/claim", headers=auth)
    if claimed.status_code == 200:
        item = claimed.json()["id"]
    candidate = {
        "name": "refunds",
        "monthly_volume": 800,
        "minutes_per_item": 4,
        "exception_rate": 0.1,
        "measurability": 4,
        "hourly_rate": 40,
    }
    r = client.post(f"/departments/{world.own_department}/inventory", json=candidate, headers=auth)
    assert r.status_code == 201, r.text
    candidate_id = r.json()["id"]
    # A public address literal: registration resolves host names and refuses internal
    # addresses, and the tests have no DNS. Nothing is delivered (no worker runs here).
    hook = {"url": "https://8.8.8.8/deshi", "events": ["item.decided"]}
    r = client.post(f"/processes/{process}/webhooks", json=hook, headers=auth)
    assert r.status_code == 201, r.text
    return {
        "process_id": process,
        "department_id": world.own_department,
        "item_id": item,
        "candidate_id": candidate_id,
        "webhook_id": r.json()["id"],
    }


@dataclass(frozen=True)
class Contract:
    """The app under test, a workspace admin's headers, and path id name → a stored id."""

    app: Any
    headers: dict[str, str]
    ids: dict[str, int]


@pytest.fixture
def contract(
    db_url: str, engine: Engine, registry: AgentRegistry, world: World
) -> Iterator[Contract]:
    """The app on the test database (SQLite, and PostgreSQL when configured), seeded; its
    audit log is keyed, as a deployment's should be (`GET /audit/head` signs with the key)."""
    settings = Settings(
        database_url=db_url, password_hash_profile="fast-insecure", audit_key=AUDIT_KEY
    )
    app = create_app(settings, registry=registry)
    with TestClient(app) as client:
        yield Contract(app, world.auth("workspace_admin"), _seed(client, world))


# The document does not depend on the database, so it is read once, from an app that never
# connects; each test sends its requests to its own app through ASGI (no network).
DOCUMENT = create_app(Settings(database_url="sqlite://", secret_key="k" * 32)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES_PER_OPERATION,
    deterministic=True,
)


def test_the_served_document_is_the_one_tested(client: TestClient, world: World) -> None:
    served = client.get("/openapi.json", headers=world.auth("owner"))
    assert served.status_code == 200 and served.json() == DOCUMENT


def _aim_at_seeded_objects(case: Any, ids: dict[str, int]) -> None:
    """Point half of the valid path ids at stored objects (the other half stay random, so
    missing objects are asked for too); invalid ids (text, huge numbers) stay as generated."""
    for name, value in (case.path_parameters or {}).items():
        if name in ids and isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = ids[name]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(case: Any, contract: Contract) -> None:
    _aim_at_seeded_objects(case, contract.ids)
    case.call_and_validate(headers=contract.headers, checks=CHECKS, app=contract.app)
