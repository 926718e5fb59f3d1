"""Graceful shutdown: a stopped worker finishes its running job or gives it back, never leaves it
leased. A real `deshi worker` process on a SQLite file, SIGTERM, and a slow webhook receiver on
127.0.0.1 (reached through the allow-list) holding the job in flight."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from deshi.db import create_db_engine, make_session_factory, transaction
from deshi.db.migrate import upgrade_to_head
from deshi.db.tables import DeliveryStatus, Job, JobStatus, Process, Webhook, WebhookDelivery
from deshi.jobs.queue import LeaseLostError, claim, enqueue, release
from deshi.jobs.worker import Worker
from deshi.learning.registry import AgentRegistry
from deshi.processes.service import create_department, create_process
from deshi.settings import Settings
from deshi.web.background import start_background_worker
from deshi.webhooks import ITEM_DECIDED, enqueue_event

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

DESHI = shutil.which("deshi", path=str(Path(sys.executable).parent)) or "deshi"
WAIT = 30.0  # generous upper bounds for a loaded machine; never a speed claim


@dataclass
class SlowReceiver:
    """A webhook endpoint that holds each request until `answer` is set."""

    port: int = 0
    received: threading.Event = field(default_factory=threading.Event)
    answer: threading.Event = field(default_factory=threading.Event)


@contextmanager
def slow_receiver() -> Iterator[SlowReceiver]:
    state = SlowReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.received.set()
            state.answer.wait(WAIT)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.port = server.server_address[1]
    try:
        yield state
    finally:
        state.answer.set()
        server.shutdown()
        server.server_close()


@dataclass
class Workspace:
    url: str
    factory: sessionmaker[Session]
    delivery_id: int


@pytest.fixture
def receiver() -> Iterator[SlowReceiver]:
    with slow_receiver() as state:
        yield state


@pytest.fixture
def workspace(tmp_path: Path, receiver: SlowReceiver) -> Iterator[Workspace]:
    """A SQLite workspace with one webhook delivery job queued for the slow receiver."""
    url = f"sqlite:///{tmp_path / 'deshi.db'}"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        department = create_department(session, actor="test", name="Ops")
        process = create_process(
            session, actor="test", department_id=department.id, name="p", labels=["a"]
        )
        hook_url = f"http://127.0.0.1:{receiver.port}/hook"
        session.add(Webhook(process_id=process.id, url=hook_url, secret="s"))
        session.flush()
        [delivery] = enqueue_event(
            session,
            process=session.get_one(Process, process.id),
            event=ITEM_DECIDED,
            payload={"item_id": 1},
        )
        delivery_id = delivery.id
    yield Workspace(url, factory, delivery_id)
    engine.dispose()


def start_worker(
    workspace: Workspace, *, grace: float, once: bool = False
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DESHI_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "DESHI_SHUTDOWN_GRACE_SECONDS": str(grace),
        "DESHI_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [DESHI, "worker", "--db", workspace.url, "--poll", "0.1", *(["--once"] if once else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def the_job(workspace: Workspace) -> Job:
    with workspace.factory() as session:
        [job] = session.query(Job).all()
        session.expunge(job)
        return job


def the_delivery(workspace: Workspace) -> WebhookDelivery:
    with workspace.factory() as session:
        delivery = session.get_one(WebhookDelivery, workspace.delivery_id)
        session.expunge(delivery)
        return delivery


def wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the worker did not exit after SIGTERM:\n{stderr}")
    return process.returncode, stderr


def test_sigterm_lets_the_running_job_finish(workspace: Workspace, receiver: SlowReceiver) -> None:
    worker = start_worker(workspace, grace=60)
    assert receiver.received.wait(WAIT), "the job never reached the receiver"
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # the worker is now stopping, with the POST still in flight
    assert worker.poll() is None
    receiver.answer.set()
    code, stderr = finished(worker)
    assert code == 0, stderr
    job = the_job(workspace)
    assert (job.status, job.locked_by, job.locked_until) == (JobStatus.DONE, None, None)
    assert the_delivery(workspace).status is DeliveryStatus.DELIVERED


def test_a_job_outlasting_the_grace_is_released_back_to_the_queue(
    workspace: Workspace, receiver: SlowReceiver
) -> None:
    worker = start_worker(workspace, grace=0.5)
    assert receiver.received.wait(WAIT), "the job never reached the receiver"
    worker.send_signal(signal.SIGTERM)  # the receiver never answers in time
    code, stderr = finished(worker)
    assert code == 0, stderr
    job = the_job(workspace)
    assert (job.status, job.locked_by, job.locked_until) == (JobStatus.QUEUED, None, None)
    assert job.attempts == 0  # a shutdown is not a failed attempt
    delivery = the_delivery(workspace)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert "released back to the queue at shutdown" in stderr


def test_a_second_sigterm_releases_the_job_at_once(
    workspace: Workspace, receiver: SlowReceiver
) -> None:
    worker = start_worker(workspace, grace=60)
    assert receiver.received.wait(WAIT), "the job never reached the receiver"
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    worker.send_signal(signal.SIGTERM)
    code, stderr = finished(worker)
    assert code == 0, stderr
    job = the_job(workspace)
    assert (job.status, job.locked_by) == (JobStatus.QUEUED, None)
    assert the_delivery(workspace).status is DeliveryStatus.PENDING


def test_sigterm_during_worker_once_releases_the_job(
    workspace: Workspace, receiver: SlowReceiver
) -> None:
    worker = start_worker(workspace, grace=60, once=True)
    assert receiver.received.wait(WAIT), "the job never reached the receiver"
    worker.send_signal(signal.SIGTERM)
    code, _ = finished(worker)
    assert code == 0
    job = the_job(workspace)
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.QUEUED, None, 0)


def test_the_servers_background_worker_releases_a_job_outlasting_the_grace(
    workspace: Workspace, receiver: SlowReceiver
) -> None:
    settings = Settings(database_url=workspace.url, webhook_allow_hosts=("127.0.0.1",))
    handle = start_background_worker(settings, registry=AgentRegistry(), poll_seconds=0.1)
    assert receiver.received.wait(WAIT), "the job never reached the receiver"
    handle.stop(grace=0.2)
    job = the_job(workspace)
    assert (job.status, job.locked_by) == (JobStatus.QUEUED, None)
    receiver.answer.set()  # the abandoned POST ends; its result can no longer be committed
    handle.thread.join(WAIT)
    assert not handle.thread.is_alive()
    assert the_job(workspace).status is JobStatus.QUEUED
    assert the_delivery(workspace).status is DeliveryStatus.PENDING


def test_release_puts_a_held_job_back_due_now_without_counting_the_attempt(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        job_id = enqueue(session, kind="k").id
    with transaction(session_factory) as session:
        held = claim(session, worker="w1")
    assert held is not None and held.attempts == 1
    with transaction(session_factory) as session:
        release(session, held)
    with transaction(session_factory) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.locked_by, job.attempts) == (JobStatus.QUEUED, None, 0)
        again = claim(session, worker="w2")  # due at once
    assert again is not None and again.id == job_id
    with pytest.raises(LeaseLostError), transaction(session_factory) as session:
        release(session, held)  # w1 no longer holds it


def test_release_current_is_none_when_the_worker_is_idle(
    session_factory: sessionmaker[Session],
) -> None:
    assert Worker(session_factory, {}).release_current() is None
