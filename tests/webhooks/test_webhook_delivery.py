from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.base import utcnow
from deshi.db.tables import DeliveryStatus, Job, JobStatus, Process, Webhook, WebhookDelivery
from deshi.jobs.worker import Worker
from deshi.processes.service import create_department, create_process
from deshi.webhooks import ITEM_COMPLETED, ITEM_DECIDED, enqueue_event, verify
from deshi.webhooks.delivery import MAX_DELIVERY_ATTEMPTS, WEBHOOK_JOB, delivery_handler
from deshi.webhooks.outbound import OutboundPolicy

SECRET = "s3cret"


def _no_dns(host: str) -> list[str]:
    raise AssertionError(f"no DNS lookup expected, got one for {host}")


LOCAL = OutboundPolicy.from_entries(["127.0.0.1"], resolver=_no_dns)  # the receiver's address


@dataclass
class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering with scripted status codes."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
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
def process_id(session_factory: sessionmaker[Session], receiver: Receiver) -> int:
    with transaction(session_factory) as session:
        department = create_department(session, actor="user:1", name="Ops")
        process = create_process(
            session, actor="user:1", department_id=department.id, name="p", labels=["a"]
        )
        session.add_all(
            [
                Webhook(process_id=process.id, url=receiver.url, secret=SECRET, events=[]),
                Webhook(process_id=process.id, url=receiver.url, secret="x", active=False),
                Webhook(
                    process_id=process.id, url=receiver.url, secret="y", events=[ITEM_COMPLETED]
                ),
            ]
        )
        return process.id


def _emit(factory: sessionmaker[Session], process_id: int) -> int:
    with transaction(factory) as session:
        process = session.get_one(Process, process_id)
        [delivery] = enqueue_event(
            session, process=process, event=ITEM_DECIDED, payload={"item_id": 7, "label": "a"}
        )
        return delivery.id


def _make_due(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        session.execute(
            update(Job)
            .where(Job.status == JobStatus.QUEUED)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )


def test_delivery_is_signed_and_retried_with_backoff_on_500s(
    session_factory: sessionmaker[Session], receiver: Receiver, process_id: int
) -> None:
    delivery_id = _emit(session_factory, process_id)
    receiver.statuses = [500, 500, 200]
    with httpx.Client() as client:
        worker = Worker(session_factory, {WEBHOOK_JOB: delivery_handler(client, outbound=LOCAL)})
        gaps = []
        for attempt in (1, 2):
            before = utcnow()
            assert worker.run_until_idle() == 1  # the retry is not due yet
            with session_factory() as session:
                delivery = session.get_one(WebhookDelivery, delivery_id)
                assert delivery.status is DeliveryStatus.PENDING
                assert delivery.attempts == attempt and delivery.last_error == "HTTP 500"
                assert delivery.next_attempt_at is not None
                gaps.append(delivery.next_attempt_at - before)
            _make_due(session_factory)
        assert worker.run_until_idle() == 1
    assert gaps[1] > gaps[0] >= timedelta(seconds=2)
    with session_factory() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(receiver.requests) == 3
    for headers, body in receiver.requests:
        assert verify(SECRET, body, headers["X-Deshi-Signature"])
        document = json.loads(body)
        assert str(document["timestamp"]) == headers["X-Deshi-Timestamp"]
        assert document["event"] == ITEM_DECIDED and document["data"]["item_id"] == 7
    assert not verify(
        "wrong", receiver.requests[0][1], receiver.requests[0][0]["X-Deshi-Signature"]
    )


def test_delivery_gives_up_after_the_last_attempt(
    session_factory: sessionmaker[Session], receiver: Receiver, process_id: int
) -> None:
    delivery_id = _emit(session_factory, process_id)
    receiver.statuses = [503] * MAX_DELIVERY_ATTEMPTS
    transport = httpx.HTTPTransport()
    with httpx.Client(transport=transport) as client:
        worker = Worker(session_factory, {WEBHOOK_JOB: delivery_handler(client, outbound=LOCAL)})
        for _ in range(MAX_DELIVERY_ATTEMPTS):
            worker.run_until_idle()
            _make_due(session_factory)
        assert worker.run_until_idle() == 0
    with session_factory() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        assert delivery.status is DeliveryStatus.FAILED
        assert delivery.attempts == MAX_DELIVERY_ATTEMPTS
        assert session.scalars(select(Job.status)).all() == [JobStatus.DONE] * (
            MAX_DELIVERY_ATTEMPTS
        )


def test_unreachable_endpoint_is_recorded_as_a_failed_attempt(
    session_factory: sessionmaker[Session], process_id: int
) -> None:
    delivery_id = _emit(session_factory, process_id)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        handlers = {WEBHOOK_JOB: delivery_handler(client, outbound=LOCAL)}
        Worker(session_factory, handlers).run_until_idle()
    with session_factory() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        assert delivery.attempts == 1 and delivery.status is DeliveryStatus.PENDING
        assert delivery.last_error is not None and "ConnectError" in delivery.last_error
