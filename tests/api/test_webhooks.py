"""Webhooks through the API: register (secret shown once), item events delivered signed by the
job worker to a real HTTP receiver on 127.0.0.1 (allowed by `DESHI_WEBHOOK_ALLOW_HOSTS`),
filtering by event, removal, and internal destinations refused with the field named."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from api_world import World, certify
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db.base import utcnow
from deshi.db.tables import AuditEvent, Webhook
from deshi.engine.training import DeciderFactory
from deshi.jobs.clock import SYSTEM_CLOCK, Clock
from deshi.jobs.worker import Worker
from deshi.learning.registry import AgentRegistry
from deshi.reviews.service import COMPLETION_HOLD_SECONDS
from deshi.settings import Settings
from deshi.web.config import ApiConfig
from deshi.webhooks import verify
from deshi.webhooks.delivery import WEBHOOK_JOB, delivery_handler
from deshi.webhooks.outbound import OutboundPolicy
from fakes import CentroidDecider

# Names resolve from this table (no DNS in tests); unknown names do not resolve.
DNS = {"example.com": ["93.184.215.14"], "intranet.example.com": ["93.184.215.14", "10.0.0.7"]}
# What a deployment posting to a receiver on this machine sets; an address needs no lookup.
LOCAL_RECEIVER = Settings(webhook_allow_hosts="127.0.0.1")
ALLOW_LOCAL_RECEIVER = pytest.mark.parametrize(
    "app_config", [ApiConfig.from_settings(LOCAL_RECEIVER)], ids=["allow-127.0.0.1"], indirect=True
)


def _table(host: str) -> list[str]:
    if host not in DNS:
        raise OSError(-2, "Name or service not known")
    return DNS[host]


@dataclass
class Receiver:
    """A real HTTP endpoint on 127.0.0.1 that records what it is sent."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def documents(self, secret: str) -> list[dict[str, Any]]:
        """The bodies received, each checked against its signature first."""
        for headers, body in self.requests:
            assert verify(secret, body, headers["X-Deshi-Signature"]), "bad signature"
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> ApiConfig:
    """No allow-list and names from `DNS`, unless a test asks for `ALLOW_LOCAL_RECEIVER`."""
    config: ApiConfig = getattr(
        request, "param", ApiConfig(outbound=OutboundPolicy(resolver=_table))
    )
    return config


@pytest.fixture
def make_decider() -> DeciderFactory:
    """Agents fit the fake decider: twenty reviews certify them (see `certify`)."""
    return CentroidDecider


@dataclass
class LaterClock:
    """The real time moved on by `ahead`: runs the jobs held back until then (the worker's
    clock seam, `deshi.jobs.clock`)."""

    ahead: timedelta

    def now(self) -> datetime:
        return utcnow() + self.ahead

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(seconds)


# Past the undo window, when a reviewed item's `item.completed` is first sent.
AFTER_UNDO_WINDOW = LaterClock(timedelta(seconds=COMPLETION_HOLD_SECONDS + 1))


def _deliver_all(factory: sessionmaker[Session], clock: Clock = SYSTEM_CLOCK) -> int:
    """What `deshi worker` does: run every job due by `clock` once."""
    outbound = OutboundPolicy.from_settings(LOCAL_RECEIVER)
    with httpx.Client() as http:
        handlers = {WEBHOOK_JOB: delivery_handler(http, outbound=outbound)}
        return Worker(factory, handlers, clock=clock).run_until_idle()


def _register(client: TestClient, world: World, url: str, events: list[str] | None = None) -> Any:
    body: dict[str, Any] = {"url": url} if events is None else {"url": url, "events": events}
    r = client.post(
        f"/processes/{world.own_process}/webhooks", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 201, r.text
    return r.json()


def _ingest(client: TestClient, world: World, external_id: str) -> Any:
    r = client.post(
        f"/processes/{world.own_process}/items",
        json={"external_id": external_id, "text": "my card has not arrived"},
        headers=world.auth("owner"),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_secret_is_shown_once_and_never_listed_or_audited(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    hook = _register(client, world, "https://example.com/hook", ["item.completed"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["item.completed"]
    listed = client.get(
        f"/processes/{world.own_process}/webhooks", headers=world.auth("admin")
    ).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.create"))
        [event] = events.all()
    assert hook["secret"] not in json.dumps(event.after)


@ALLOW_LOCAL_RECEIVER
def test_decided_and_reviewed_items_are_delivered_signed(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = _register(client, world, receiver.url)
    item = _ingest(client, world, "ext-1")
    claimed = client.post(
        f"/processes/{world.own_process}/queue/claim", headers=world.auth("reviewer")
    ).json()
    r = client.post(
        f"/items/{claimed['id']}/review",
        json={"action": "correct", "label": "lost_or_stolen_card"},
        headers=world.auth("reviewer"),
    )
    assert r.status_code == 200, r.text
    assert _deliver_all(session_factory) == 1  # the completion waits out the undo window
    assert _deliver_all(session_factory, AFTER_UNDO_WINDOW) == 1
    decided, completed = receiver.documents(hook["secret"])
    assert decided["event"] == "item.decided" and completed["event"] == "item.completed"
    assert decided["data"] == {
        "item_id": item["id"],
        "external_id": "ext-1",
        "process_id": world.own_process,
        "status": "queued",
        "label": item["decision"]["label"],
        "route": item["decision"]["route"],
        "model_version": item["decision"]["model_version"],
    }
    assert completed["data"]["status"] == "completed"
    assert completed["data"]["label"] == "lost_or_stolen_card"
    assert {h["X-Deshi-Event"] for h, _ in receiver.requests} == {"item.decided", "item.completed"}
    resent = client.post(
        f"/processes/{world.own_process}/items",
        json={"external_id": "ext-1", "text": "my card has not arrived"},
        headers=world.auth("owner"),
    )
    assert resent.status_code == 200 and _deliver_all(session_factory) == 0  # nothing new


@ALLOW_LOCAL_RECEIVER
def test_an_undone_answer_sends_one_completion_for_the_answer_that_stands(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = _register(client, world, receiver.url, ["item.completed"])
    _ingest(client, world, "ext-1")
    reviewer = world.auth("reviewer")
    claimed = client.post(f"/processes/{world.own_process}/queue/claim", headers=reviewer).json()
    url = f"/items/{claimed['id']}/review"
    first = {"action": "correct", "label": "lost_or_stolen_card"}
    assert client.post(url, json=first, headers=reviewer).status_code == 200
    assert client.post(f"{url}/undo", headers=reviewer).status_code == 200
    second = {"action": "correct", "label": "card_arrival"}
    assert client.post(url, json=second, headers=reviewer).status_code == 200
    _deliver_all(session_factory, AFTER_UNDO_WINDOW)  # the withdrawn one's job finds nothing
    [completed] = receiver.documents(hook["secret"])
    assert completed["data"]["label"] == "card_arrival"


@ALLOW_LOCAL_RECEIVER
def test_auto_completed_items_send_decided_and_completed(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    registry: AgentRegistry,
    receiver: Receiver,
) -> None:
    [(text, _), *_] = certify(client, world, factory=session_factory, registry=registry)
    client.patch(
        f"/processes/{world.own_process}", json={"mode": "autopilot"}, headers=world.auth("owner")
    ).raise_for_status()
    everything = _register(client, world, receiver.url)
    only_completed = _register(client, world, receiver.url, ["item.completed"])
    body = {"items": [{"external_id": f"b{i}", "text": text} for i in range(3)]}
    r = client.post(
        f"/processes/{world.own_process}/items:batch", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 201, r.text
    assert _deliver_all(session_factory) == 3 * 2 + 3
    by_hook: dict[str, list[tuple[str, str]]] = {"all": [], "completed": []}
    for headers, body_bytes in receiver.requests:
        document = json.loads(body_bytes)
        which = (
            "all"
            if verify(everything["secret"], body_bytes, headers["X-Deshi-Signature"])
            else "completed"
        )
        assert which == "all" or verify(
            only_completed["secret"], body_bytes, headers["X-Deshi-Signature"]
        )
        by_hook[which].append((document["event"], document["data"]["external_id"]))
    assert sorted(by_hook["all"]) == sorted(
        [(e, f"b{i}") for i in range(3) for e in ("item.decided", "item.completed")]
    )
    assert sorted(by_hook["completed"]) == [("item.completed", f"b{i}") for i in range(3)]
    assert all(json.loads(b)["data"]["status"] == "auto_completed" for _, b in receiver.requests)


@ALLOW_LOCAL_RECEIVER
def test_deleted_webhooks_get_nothing_more(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = _register(client, world, receiver.url)
    r = client.delete(
        f"/processes/{world.own_process}/webhooks/{hook['id']}", headers=world.auth("owner")
    )
    assert r.status_code == 204, r.text
    _ingest(client, world, "after-delete")
    assert _deliver_all(session_factory) == 0 and receiver.requests == []
    assert (
        client.get(f"/processes/{world.own_process}/webhooks", headers=world.auth("owner")).json()
        == []
    )
    again = client.delete(
        f"/processes/{world.own_process}/webhooks/{hook['id']}", headers=world.auth("owner")
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "events": ["item.deleted"]}, "events"),
    ],
)
def test_bad_webhooks_are_refused_with_the_field_named(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    r = client.post(
        f"/processes/{world.own_process}/webhooks", json=body, headers=world.auth("owner")
    )
    assert r.status_code == 422, r.text
    assert field in r.text


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
        ("http://[::1]:6379", "::1 is a loopback address"),
        ("http://10.0.0.1", "10.0.0.1 is a private address"),
        ("http://100.64.0.1/", "is a shared (CGNAT) address"),
        ("http://[::ffff:10.0.0.1]/", "is a private address"),
        ("http://localhost:8000/", "localhost does not resolve"),  # not in the table
        ("https://intranet.example.com/hook", "resolves to 10.0.0.7, which is a private"),
        ("http://2130706433/", "reads as an IPv4 address"),
        ("http://0x7f.0.0.1/", "reads as an IPv4 address"),
        ("http://erp:hunter2@example.com/hook", "credentials in the URL"),
        ("gopher://example.com:6379/_", "only http and https"),
    ],
)
def test_internal_destinations_are_refused_at_registration(
    client: TestClient, world: World, url: str, detail: str
) -> None:
    hooks = f"/processes/{world.own_process}/webhooks"
    r = client.post(hooks, json={"url": url}, headers=world.auth("owner"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "url" and detail in problem["detail"], problem
    assert "hunter2" not in r.text  # a refused URL's credentials are not echoed
    assert client.get(hooks, headers=world.auth("owner")).json() == []


@pytest.mark.parametrize(
    "app_config",
    [ApiConfig.from_settings(Settings(webhook_allow_hosts="127.0.0.1, 10.0.0.0/8"))],
    indirect=True,
)
def test_the_allow_list_lets_an_internal_receiver_be_registered(
    client: TestClient, world: World
) -> None:
    hooks = f"/processes/{world.own_process}/webhooks"
    for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook"):
        r = client.post(hooks, json={"url": url}, headers=world.auth("owner"))
        assert r.status_code == 201, r.text
    for url in ("http://192.168.0.1/", "http://u:p@10.1.2.3/"):  # credentials: never
        r = client.post(hooks, json={"url": url}, headers=world.auth("owner"))
        assert r.status_code == 422 and r.json()["field"] == "url", r.text


def test_listings_hide_the_password_of_a_webhook_stored_before_credentials_were_refused(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        session.add(
            Webhook(
                process_id=world.own_process, url="https://erp:hunter2@example.com/h", secret="s"
            )
        )
    r = client.get(f"/processes/{world.own_process}/webhooks", headers=world.auth("owner"))
    assert [hook["url"] for hook in r.json()] == ["https://erp:***@example.com/h"]
