"""Every bad input is a 4xx naming the field, and leaves the database as it was.

Each case sends what a client could send (raw JSON where a JSON library would refuse to write
it) to the app on a real database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_world import PASSWORD, World
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.tables import AuditEvent, Item, Process
from deshi.settings import Settings
from deshi.web import create_app
from deshi.web.ui.session import CSRF_HEADER

JSON = {"Content-Type": "application/json"}
CHEAP_HASHING = "fast-insecure"  # as in conftest: argon2id at tiny costs


def _raw(client: TestClient, method: str, url: str, body: str | bytes, who: str, world: World):  # type: ignore[no-untyped-def]
    headers = {**JSON, **world.auth(who)}
    return client.request(method, url, content=body, headers=headers)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _count(factory: sessionmaker[Session], table: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


# --- ids beyond what an id column holds -------------------------------------------------------


# The browser pages with an id in their path (method, path); the API's come from its OpenAPI.
UI_ID_ROUTES = [
    ("GET", "/processes/{process_id}/work"),
    ("GET", "/ui/processes/{process_id}"),
    ("GET", "/ui/processes/{process_id}/report"),
    ("GET", "/ui/items/{item_id}"),
    ("POST", "/ui/processes/{process_id}/next"),
    ("POST", "/ui/items/{item_id}/answer"),
    ("POST", "/ui/processes/{process_id}/items/{item_id}/skip"),
]


def _api_id_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if re.search(r"\{\w+\}", path)
        for method in operations
    ]


def _sign_in(client: TestClient, who: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": f"{who}@example.com", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/audit").text)
    assert token is not None
    return token.group(1)


@pytest.mark.parametrize("huge", [2**31, 2**63, 2**64, 10**30])  # 2**31: INTEGER on PostgreSQL
def test_ids_too_large_for_the_database_are_refused_on_every_route(
    client: TestClient, world: World, huge: int
) -> None:
    api = _api_id_routes(client)
    assert len(api) >= 15
    for method, path in api:
        url = re.sub(r"\{\w+\}", str(huge), path)
        response = client.request(method, url, json={}, headers=world.auth("workspace_admin"))
        problem = _problem(response, 422)
        assert re.fullmatch(r"\w+_id|version", problem["field"]), (method, url, problem)
    csrf = _sign_in(client, "workspace_admin")
    for method, path in UI_ID_ROUTES:
        url = re.sub(r"\{\w+\}", str(huge), path)
        response = client.request(method, url, headers={CSRF_HEADER: csrf}, follow_redirects=False)
        assert _problem(response, 422)["field"].endswith("_id"), (method, url)


# --- texts that cannot be stored ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"text": "\\ud800 alone"}', "text"),
        ('{"text": "ok", "fields": {"note": "\\udfff"}}', "fields"),
        ('{"text": "ok", "entity_key": "\\ud83d"}', "entity_key"),
    ],
)
def test_a_lone_surrogate_in_an_item_is_422(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    body: str,
    field: str,
) -> None:
    url = f"/processes/{world.own_process}/items"
    problem = _problem(_raw(client, "POST", url, body, "owner", world), 422)
    assert problem["field"] == field
    assert _count(session_factory, Item) == 0


def test_a_surrogate_pair_is_text(client: TestClient, world: World) -> None:
    url = f"/processes/{world.own_process}/items"
    response = _raw(client, "POST", url, '{"text": "card \\ud83d\\ude00"}', "owner", world)
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "card 😀"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/processes/{pid}/items", '{"text": "a\\u0000b"}', "text"),
        ("/processes/{pid}/items", '{"text": "ok", "fields": {"n\\u0000": 1}}', "fields"),
        ("/processes/{pid}/history:batch", '{"rows": [{"text": "t", "label": "x\\u0000"}]}', None),
    ],
)
def test_a_nul_character_is_422_not_a_database_error(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    url: str,
    body: str,
    field: str | None,
) -> None:
    # PostgreSQL's text cannot hold U+0000: found by the contract test on history:batch (a 500)
    path = url.format(pid=world.own_process)
    problem = _problem(_raw(client, "POST", path, body, "owner", world), 422)
    assert "NUL" in problem["detail"]
    if field is not None:
        assert problem["field"] == field
    assert _count(session_factory, Item) == 0


def test_a_lone_surrogate_in_a_process_change_or_a_review_is_422(
    client: TestClient, world: World
) -> None:
    process = f"/processes/{world.own_process}"
    problem = _problem(_raw(client, "PATCH", process, '{"name": "x\\ud800"}', "owner", world), 422)
    assert problem["field"] == "name"
    problem = _problem(
        _raw(client, "PATCH", process, '{"labels": ["a", "\\ud800"]}', "owner", world), 422
    )
    assert problem["field"] == "labels[1]"
    review = '{"action": "correct", "label": "\\udc00"}'
    problem = _problem(_raw(client, "POST", "/items/1/review", review, "reviewer", world), 422)
    assert problem["field"] == "label"


# --- numbers that are not numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"hourly_rate": Infinity}', "hourly_rate"),
        ('{"human_minutes_per_item": NaN}', "human_minutes_per_item"),
        ('{"cost_per_escaped_error": 1e400}', "cost_per_escaped_error"),
        ('{"error_budget": NaN}', "error_budget"),
        ('{"audit_rate": -Infinity}', "audit_rate"),
        ('{"arms": {"human_only": NaN, "ai_led": 1}}', "arms.human_only"),
        ('{"arms": {"human_only": 1e400}}', "arms.human_only"),
        (
            '{"always_human_rules": [{"field": "amount", "op": ">", "value": Infinity}]}',
            "always_human_rules[0].value",
        ),
    ],
)
def test_non_finite_numbers_in_a_process_are_422(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    body: str,
    field: str,
) -> None:
    url = f"/processes/{world.own_process}"
    problem = _problem(_raw(client, "PATCH", url, body, "owner", world), 422)
    assert problem["field"] == field
    with session_factory() as session:
        process = session.get_one(Process, world.own_process)
        assert process.hourly_rate is None and process.arms == {}


@pytest.mark.parametrize(
    "body",
    [
        '{"text": "x", "fields": {"amount": NaN}}',
        '{"text": "x", "fields": {"amount": [1, {"deep": -Infinity}]}}',
        '{"text": "x", "fields": {"amount": 1e400}}',
    ],
)
def test_non_finite_numbers_in_item_fields_are_422(
    client: TestClient, world: World, body: str
) -> None:
    url = f"/processes/{world.own_process}/items"
    problem = _problem(_raw(client, "POST", url, body, "owner", world), 422)
    assert problem["field"] == "fields"
    assert "finite" in problem["detail"]


def test_non_finite_numbers_in_inventory_and_reviews_are_422(
    client: TestClient, world: World
) -> None:
    candidate = (
        '{"name": "x", "monthly_volume": Infinity, "minutes_per_item": 1, '
        '"exception_rate": 0.1, "measurability": 3, "hourly_rate": 40}'
    )
    url = f"/departments/{world.own_department}/inventory"
    problem = _problem(_raw(client, "POST", url, candidate, "owner", world), 422)
    assert problem["field"] == "monthly_volume"
    review = '{"action": "accept", "seconds": NaN}'
    problem = _problem(_raw(client, "POST", "/items/1/review", review, "reviewer", world), 422)
    assert problem["field"] == "seconds"


# --- arms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ({"humans": 1.0}, "unknown arm 'humans'"),
        ({"human_only": 0.5, "ai_led": 0.6}, "sum to 1"),
        ({"human_only": 0.1, "ai_led": 0.1}, "sum to 1"),
        ({"human_only": -0.5, "ai_led": 1.5}, "between 0 and 1"),
        ({"human_only": 1e308, "ai_led": 1e308}, "between 0 and 1"),
    ],
)
def test_arms_must_be_known_and_share_one(
    client: TestClient, world: World, arms: dict[str, float], message: str
) -> None:
    url = f"/processes/{world.own_process}"
    response = client.patch(url, json={"arms": arms}, headers=world.auth("owner"))
    problem = _problem(response, 422)
    assert problem["field"] == "arms"
    assert message in problem["detail"]
    item = client.post(f"{url}/items", json={"text": "card?"}, headers=world.auth("owner"))
    assert item.status_code == 201, item.text


def test_valid_arms_are_stored_and_items_are_drawn_into_them(
    client: TestClient, world: World
) -> None:
    url = f"/processes/{world.own_process}"
    arms = {"human_only": 0.1, "assisted": 0.2, "ai_led": 0.7}  # 0.1 + 0.2 + 0.7 != 1.0 exactly
    response = client.patch(url, json={"arms": arms}, headers=world.auth("owner"))
    assert response.status_code == 200, response.text
    assert response.json()["arms"] == arms
    item = client.post(f"{url}/items", json={"text": "card?"}, headers=world.auth("owner"))
    assert item.status_code == 201 and item.json()["arm"] in arms
    response = client.patch(url, json={"arms": {}}, headers=world.auth("owner"))
    assert response.status_code == 200 and response.json()["arms"] == {}


# --- sizes --------------------------------------------------------------------------------------


@pytest.fixture
def small_client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    """The app with a 4 KiB request body limit."""
    settings = Settings(
        database_url=db_url, password_hash_profile=CHEAP_HASHING, max_body_bytes=4096
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_body_over_the_limit_is_413_before_it_is_parsed(
    small_client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}/items"
    big = b'{"text": "' + b"a" * 5000 + b'"}'
    problem = _problem(
        small_client.post(url, content=big, headers={**JSON, **world.auth("owner")}), 413
    )
    assert problem["code"] == "payload_too_large" and "4,096 bytes" in problem["detail"]
    # Streamed without a Content-Length: cut off as the bytes pass the limit.
    chunks = (b"x" * 1000 for _ in range(10))
    response = small_client.post(url, content=chunks, headers={**JSON, **world.auth("owner")})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    _problem(response, 413)
    # Not JSON, not signed in: the limit comes first all the same.
    _problem(small_client.post("/login", content=b"e=" + b"x" * 5000), 413)
    assert _count(session_factory, Item) == 0
    ok = small_client.post(url, json={"text": "a" * 3000}, headers=world.auth("owner"))
    assert ok.status_code == 201, ok.text


def test_the_default_body_limit_holds_a_full_batch_of_japanese_texts() -> None:
    settings = Settings()
    full_batch = settings.max_batch_items * settings.max_text_chars * len("請".encode())
    assert full_batch < settings.max_body_bytes


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({f"k{i}": i for i in range(101)}, "at most 100"),
        ({"note": "x" * 33_000}, "32,768 bytes"),
        ({"note": "請" * 11_000}, "32,768 bytes"),  # 33,000 bytes in UTF-8
    ],
)
def test_item_fields_are_bounded(
    client: TestClient, world: World, fields: dict[str, Any], message: str
) -> None:
    url = f"/processes/{world.own_process}/items"
    response = client.post(url, json={"text": "x", "fields": fields}, headers=world.auth("owner"))
    problem = _problem(response, 422)
    assert problem["field"] == "fields" and message in problem["detail"]


def test_labels_are_bounded_and_the_audit_log_stays_small(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}"
    too_many = [f"label {i}" for i in range(2001)]
    problem = _problem(
        client.patch(url, json={"labels": too_many}, headers=world.auth("owner")), 422
    )
    assert problem["field"] == "labels"
    too_long = ["x" * 201]
    problem = _problem(
        client.patch(url, json={"labels": too_long}, headers=world.auth("owner")), 422
    )
    assert problem["field"] == "labels[0]"
    problem = _problem(
        client.patch(url, json={"sensitive_labels": too_long}, headers=world.auth("owner")), 422
    )
    assert problem["field"] == "sensitive_labels[0]"
    body = {"department_id": world.own_department, "name": "big", "labels": too_many}
    problem = _problem(client.post("/processes", json=body, headers=world.auth("owner")), 422)
    assert problem["field"] == "labels"
    with session_factory() as session:
        stored = session.scalars(select(AuditEvent.after)).all()
    assert stored and max(len(json.dumps(after)) for after in stored) < 10_000


def test_rules_are_bounded_in_number_and_length(client: TestClient, world: World) -> None:
    url = f"/processes/{world.own_process}"
    rules = [{"pattern": f"word{i}"} for i in range(101)]
    response = client.patch(url, json={"always_human_rules": rules}, headers=world.auth("owner"))
    assert _problem(response, 422)["field"] == "always_human_rules"
    rules = [{"pattern": "a" * 1001}]
    response = client.patch(url, json={"always_human_rules": rules}, headers=world.auth("owner"))
    assert _problem(response, 422)["field"] == "always_human_rules[0].pattern"


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=lawyer)", r"(?<!no )lawyer", r"a{1001}"])
def test_a_pattern_re2_cannot_run_is_refused_naming_the_rule(
    client: TestClient, world: World, pattern: str
) -> None:
    url = f"/processes/{world.own_process}"
    rules = [{"name": "fine", "pattern": "lawyer"}, {"name": "slow", "pattern": pattern}]
    response = client.patch(url, json={"always_human_rules": rules}, headers=world.auth("owner"))
    problem = _problem(response, 422)
    assert problem["field"] == "always_human_rules[1].pattern"
    assert "RE2" in problem["detail"]


def test_a_nested_quantifier_rule_is_stored_and_applied(client: TestClient, world: World) -> None:
    url = f"/processes/{world.own_process}"
    rules = [{"name": "runaway", "pattern": "(a+)+$"}]
    response = client.patch(url, json={"always_human_rules": rules}, headers=world.auth("owner"))
    assert response.status_code == 200, response.text
    # Short texts: a backtracking engine must make this test slow, never hang it (the
    # 20,000-character case runs under a timeout in tests/learning/test_rules.py).
    for text, ruled in (("a" * 19 + "!", False), ("a" * 20, True)):
        item = client.post(f"{url}/items", json={"text": text}, headers=world.auth("owner"))
        assert item.status_code == 201, item.text
        assert (item.json()["decision"]["reason_code"] == "rule") is ruled


# --- encodings and settings ---------------------------------------------------------------------


def test_a_body_that_is_not_utf8_is_422_naming_the_body(client: TestClient, world: World) -> None:
    url = f"/processes/{world.own_process}/items"
    response = _raw(client, "POST", url, b'{"text": "caf\xe9"}', "owner", world)
    assert _problem(response, 422)["field"] == "body"


def test_the_secret_key_has_at_least_32_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes") as raised:
        Settings(secret_key="one character would do before")
    assert "one character" not in str(raised.value)  # the value never reaches a log
    assert Settings(secret_key="k" * 32).secret_key is not None
    monkeypatch.setenv("DESHI_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="secret_key"):
        Settings()


# --- archived processes -------------------------------------------------------------------------


def test_an_archived_process_takes_no_claims_reviews_or_items(
    client: TestClient, world: World
) -> None:
    url = f"/processes/{world.own_process}"
    client.post(f"{url}/items", json={"text": "card?"}, headers=world.auth("owner"))
    client.post(f"{url}/items", json={"text": "card!"}, headers=world.auth("owner"))
    claimed = client.post(f"{url}/queue/claim", headers=world.auth("reviewer"))
    assert claimed.status_code == 200, claimed.text
    assert client.post(f"{url}/archive", headers=world.auth("owner")).status_code == 200
    answer = {"action": "correct", "label": "card_arrival"}
    review = client.post(
        f"/items/{claimed.json()['id']}/review", json=answer, headers=world.auth("reviewer")
    )
    assert "archived" in _problem(review, 409)["detail"]
    claim = client.post(f"{url}/queue/claim", headers=world.auth("reviewer2"))
    assert "archived" in _problem(claim, 409)["detail"]
    item = client.post(f"{url}/items", json={"text": "x"}, headers=world.auth("owner"))
    assert "archived" in _problem(item, 409)["detail"]


# --- new labels from reviews --------------------------------------------------------------------


def _claim_and_answer(client: TestClient, world: World, who: str, label: str) -> Any:
    url = f"/processes/{world.own_process}"
    client.post(f"{url}/items", json={"text": f"about {label}"}, headers=world.auth("owner"))
    claimed = client.post(f"{url}/queue/claim", headers=world.auth(who))
    assert claimed.status_code == 200, claimed.text
    answer = {"action": "correct", "label": label}
    return client.post(
        f"/items/{claimed.json()['id']}/review", json=answer, headers=world.auth(who)
    )


def _labels_added(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "process.labels_added")
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def test_a_reviewer_adds_a_label_by_default_and_it_is_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}"
    assert client.get(url, headers=world.auth("owner")).json()["new_labels"] == "reviewers"
    before = client.get(url, headers=world.auth("owner")).json()["labels"]
    response = _claim_and_answer(client, world, "reviewer", "card_swallowed")
    assert response.status_code == 200, response.text
    assert client.get(url, headers=world.auth("owner")).json()["labels"] == [
        *before,
        "card_swallowed",
    ]
    [event] = _labels_added(session_factory)
    assert event.object_type == "processes" and event.object_id == str(world.own_process)
    assert event.before == {"labels": before}
    assert event.after == {"labels": [*before, "card_swallowed"]}
    assert event.actor == f"user:{world.user_ids['reviewer']}"
    # A label already in the set changes nothing and records nothing more.
    assert _claim_and_answer(client, world, "reviewer", "card_swallowed").status_code == 200
    assert len(_labels_added(session_factory)) == 1


def test_when_only_owners_add_labels_a_reviewer_picks_from_the_set(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"/processes/{world.own_process}"
    changed = client.patch(url, json={"new_labels": "owners"}, headers=world.auth("owner"))
    assert changed.status_code == 200 and changed.json()["new_labels"] == "owners"
    refused = _claim_and_answer(client, world, "reviewer", "card_swallowed")
    problem = _problem(refused, 422)
    assert problem["field"] == "label" and "only its owners" in problem["detail"]
    assert "card_swallowed" not in client.get(url, headers=world.auth("owner")).json()["labels"]
    assert _claim_and_answer(client, world, "reviewer", "card_arrival").status_code == 200
    assert _claim_and_answer(client, world, "owner", "card_swallowed").status_code == 200
    assert len(_labels_added(session_factory)) == 1
    null = client.patch(url, json={"new_labels": None}, headers=world.auth("owner"))
    assert _problem(null, 422)["field"] == "new_labels"
