"""Deliveries check their destination again when they are sent: a refused one fails at once with
its reason, a re-pointed name is caught, the connection goes to the checked address (TLS still
verified for the name), and redirects are not followed. Receivers are real listeners on
127.0.0.1, reached through the allow-list; names resolve through an injected table (no DNS)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import transaction
from deshi.db.tables import DeliveryStatus, Job, JobStatus, Process, Webhook, WebhookDelivery
from deshi.jobs.worker import Worker
from deshi.processes.service import create_department, create_process
from deshi.webhooks import ITEM_DECIDED, enqueue_event
from deshi.webhooks.delivery import (
    REFUSED_PREFIX,
    WEBHOOK_JOB,
    FailedDeliveries,
    count_failed_deliveries,
    delivery_handler,
)
from deshi.webhooks.outbound import OutboundPolicy, outbound_client

PUBLIC = "93.184.215.14"


@dataclass
class Listener:
    """A real HTTP(S) endpoint on 127.0.0.1: what it was sent, and what it answers."""

    port: int = 0
    status: int = 204
    location: str | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def listening(tls: ssl.SSLContext | None = None) -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers.items())))
            self.send_response(state.status)
            if state.location is not None:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.port = server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Dns:
    """An injected resolver: a table the test can re-point, and every lookup it answered."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise OSError(-2, "Name or service not known")
        return self.answers[host]


def _hook_with_event(factory: sessionmaker[Session], url: str) -> int:
    """A process with one webhook on `url` (stored as it is, as if registered long ago) and
    one queued event for it; the delivery's id."""
    [delivery_id] = _hooks_with_event(factory, [url])
    return delivery_id


def _hooks_with_event(factory: sessionmaker[Session], urls: list[str]) -> list[int]:
    """A process with a webhook on each of `urls` and one event: the deliveries' ids, in the
    order of `urls`."""
    with transaction(factory) as session:
        department = create_department(session, actor="user:1", name="Ops")
        process = create_process(
            session, actor="user:1", department_id=department.id, name="p", labels=["a"]
        )
        session.add_all(Webhook(process_id=process.id, url=url, secret="s") for url in urls)
        session.flush()
        deliveries = enqueue_event(
            session,
            process=session.get_one(Process, process.id),
            event=ITEM_DECIDED,
            payload={"item_id": 1},
        )
        return [delivery.id for delivery in deliveries]


def _run(factory: sessionmaker[Session], client: httpx.Client, outbound: OutboundPolicy) -> int:
    worker = Worker(factory, {WEBHOOK_JOB: delivery_handler(client, outbound=outbound)})
    return worker.run_until_idle()


def _delivery(factory: sessionmaker[Session], delivery_id: int) -> WebhookDelivery:
    with factory() as session:
        return session.get_one(WebhookDelivery, delivery_id)


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may leave, got one to {request.url}")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:6379/",
        "http://user:pass@hooks.example.com/hook",
        "http://2130706433/",
        "http://internal.example.com/hook",  # resolves to 192.168.1.20
    ],
)
def test_a_refused_destination_fails_at_once_with_its_reason(
    session_factory: sessionmaker[Session], url: str
) -> None:
    delivery_id = _hook_with_event(session_factory, url)
    dns = Dns({"internal.example.com": ["192.168.1.20"], "hooks.example.com": [PUBLIC]})
    with httpx.Client(transport=httpx.MockTransport(_unreachable)) as client:
        assert _run(session_factory, client, OutboundPolicy(resolver=dns)) == 1
    delivery = _delivery(session_factory, delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.next_attempt_at is None
    assert delivery.last_error is not None and delivery.last_error.startswith(REFUSED_PREFIX)
    with session_factory() as session:
        assert session.scalars(select(Job.status)).all() == [JobStatus.DONE]  # no retry queued
        assert count_failed_deliveries(session) == FailedDeliveries(failed=1, refused=1)


def test_a_name_re_pointed_after_registration_is_refused_at_send_time(
    session_factory: sessionmaker[Session],
) -> None:
    sent: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    dns = Dns({"hooks.example.com": [PUBLIC]})
    policy = OutboundPolicy(resolver=dns)
    first = _hook_with_event(session_factory, "https://hooks.example.com/deshi")
    with httpx.Client(transport=httpx.MockTransport(accept)) as client:
        assert _run(session_factory, client, policy) == 1
        dns.answers["hooks.example.com"] = ["127.0.0.1"]  # the rebinding
        with transaction(session_factory) as session:
            process = session.scalars(select(Process)).one()
            [second] = enqueue_event(
                session, process=process, event=ITEM_DECIDED, payload={"item_id": 2}
            )
            second_id = second.id
        assert _run(session_factory, client, policy) == 1
    assert dns.lookups == ["hooks.example.com", "hooks.example.com"]  # once per attempt
    [request] = sent
    assert request.url.host == PUBLIC and request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert _delivery(session_factory, first).status is DeliveryStatus.DELIVERED
    refused = _delivery(session_factory, second_id)
    assert refused.status is DeliveryStatus.FAILED
    assert refused.last_error == (
        "refused: hooks.example.com resolves to 127.0.0.1, which is a loopback address; "
        "webhooks post only to public addresses (an internal receiver must be listed in "
        "DESHI_WEBHOOK_ALLOW_HOSTS)"
    )


def test_an_allowed_internal_name_is_delivered_to_the_address_that_was_checked(
    session_factory: sessionmaker[Session],
) -> None:
    dns = Dns({"erp.intranet.test": ["127.0.0.1"]})
    policy = OutboundPolicy.from_entries(["erp.intranet.test"], resolver=dns)
    with listening() as listener, outbound_client() as client:
        delivery_id = _hook_with_event(
            session_factory, f"http://erp.intranet.test:{listener.port}/deshi"
        )
        assert _run(session_factory, client, policy) == 1
    assert _delivery(session_factory, delivery_id).status is DeliveryStatus.DELIVERED
    [(path, headers)] = listener.requests
    assert path == "/deshi" and headers["Host"] == f"erp.intranet.test:{listener.port}"


def test_an_unresolvable_name_is_retried_later(session_factory: sessionmaker[Session]) -> None:
    delivery_id = _hook_with_event(session_factory, "https://gone.example.com/hook")
    with httpx.Client(transport=httpx.MockTransport(_unreachable)) as client:
        _run(session_factory, client, OutboundPolicy(resolver=Dns()))
    delivery = _delivery(session_factory, delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.last_error is not None and delivery.last_error.startswith(
        "DNS: gone.example.com does not resolve"
    )
    with session_factory() as session:
        assert count_failed_deliveries(session) == FailedDeliveries(failed=0, refused=0)


def test_redirects_are_not_followed(session_factory: sessionmaker[Session]) -> None:
    policy = OutboundPolicy.from_entries(["127.0.0.1"], resolver=Dns())
    with listening() as listener, outbound_client() as client:
        listener.status, listener.location = 307, "http://169.254.169.254/latest/meta-data/"
        delivery_id = _hook_with_event(session_factory, f"http://127.0.0.1:{listener.port}/a")
        assert _run(session_factory, client, policy) == 1
    assert [path for path, _ in listener.requests] == ["/a"]
    delivery = _delivery(session_factory, delivery_id)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_error == "HTTP 307 (redirects are not followed)"


@pytest.fixture
def tls_for_name(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for `hooks.test`: the server's context and a client context
    that trusts it (and verifies host names)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_https_connects_to_the_pinned_address_and_verifies_the_certificate_for_the_name(
    session_factory: sessionmaker[Session], tls_for_name: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_tls, client_tls = tls_for_name
    dns = Dns({"hooks.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]})
    policy = OutboundPolicy.from_entries(["hooks.test", "impostor.test"], resolver=dns)
    with (
        listening(server_tls) as listener,
        httpx.Client(verify=client_tls, trust_env=False) as client,
    ):
        good, impostor = _hooks_with_event(
            session_factory,
            [f"https://hooks.test:{listener.port}/in", f"https://impostor.test:{listener.port}/in"],
        )
        assert _run(session_factory, client, policy) == 2
    assert dns.lookups == ["hooks.test", "impostor.test"]
    assert _delivery(session_factory, good).status is DeliveryStatus.DELIVERED
    [(path, headers)] = listener.requests
    assert path == "/in" and headers["Host"] == f"hooks.test:{listener.port}"
    refused = _delivery(session_factory, impostor)  # same address, a name the cert lacks
    assert refused.status is DeliveryStatus.PENDING and refused.last_error is not None
    assert "certificate verify failed" in refused.last_error.lower()
