"""Wiring: the handlers of every job kind, and the in-process background worker.

`start_background_worker(settings, registry=...)` is the hook for the API app on a single node:
call it at startup and `handle.stop()` at shutdown. It owns its engine and its HTTP client; the
app passes `registry.sibling()`, a registry of its own with the app's decider factory, so a long
retrain never holds the API's agent lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from deshi.db import engine_from_settings, make_session_factory
from deshi.drafting.autosend_job import autosend_handler
from deshi.drafting.autosend_state import CERTIFY_JOB, certify_handler
from deshi.drafting.core import Drafter
from deshi.drafting.extractive import ExtractiveDrafter
from deshi.history.golive import GOLIVE_JOB, golive_handler
from deshi.items.autosend import DRAFT_AUTOSEND_JOB
from deshi.items.drift import DRIFT_JOB, drift_handler
from deshi.jobs.worker import Handler, Worker
from deshi.knowledge import KnowledgeIndex
from deshi.learning.jobs import RETRAIN_JOB, retrain_handler
from deshi.learning.registry import AgentRegistry
from deshi.settings import Settings
from deshi.webhooks.delivery import WEBHOOK_JOB, delivery_handler
from deshi.webhooks.outbound import OutboundPolicy, outbound_client

__all__ = ["BackgroundWorker", "default_handlers", "start_background_worker"]


def default_handlers(
    *,
    registry: AgentRegistry,
    client: httpx.Client,
    outbound: OutboundPolicy,
    drafter: Drafter | None = None,
    index: KnowledgeIndex | None = None,
    isolated_retrains: Settings | None = None,
) -> Mapping[str, Handler]:
    """Every job kind deshi queues, mapped to its handler; webhooks post with `client` only
    where `outbound` allows; replies sent without review are drafted by `drafter` (default
    extractive) from `index` (default: one built at the first such job); retrains run in a
    child process on `isolated_retrains`' database when given (`Settings.isolate_retrains`)."""
    return {
        RETRAIN_JOB: retrain_handler(registry, isolated=isolated_retrains),
        WEBHOOK_JOB: delivery_handler(client, outbound=outbound),
        GOLIVE_JOB: golive_handler(),
        DRIFT_JOB: drift_handler(),
        DRAFT_AUTOSEND_JOB: autosend_handler(drafter or ExtractiveDrafter(), _lazy(index)),
        CERTIFY_JOB: certify_handler(),
    }


def _lazy(index: KnowledgeIndex | None) -> Callable[[], KnowledgeIndex]:
    """`index`, or one built when first asked for (its embedder loads a model)."""
    built: list[KnowledgeIndex] = [index] if index is not None else []

    def get() -> KnowledgeIndex:
        if not built:
            built.append(KnowledgeIndex())
        return built[0]

    return get


@dataclass
class BackgroundWorker:
    """A worker thread with the resources it owns; `stop()` ends it and releases them."""

    worker: Worker
    thread: threading.Thread
    stop_event: threading.Event
    engine: Engine
    client: httpx.Client

    def stop(self, grace: float = 30.0) -> None:
        """Ask the worker to stop after its current job and wait up to `grace` seconds; a job
        still running then is released back to the queue. Then release the resources."""
        self.stop_event.set()
        self.thread.join(grace)
        if self.thread.is_alive():
            self.worker.release_current()
        self.client.close()
        self.engine.dispose()


def start_background_worker(
    settings: Settings,
    *,
    registry: AgentRegistry,
    poll_seconds: float = 1.0,
    client: httpx.Client | None = None,
    drafter: Drafter | None = None,
) -> BackgroundWorker:
    """Start a daemon thread running jobs on `settings.database_url` with `registry`'s agents;
    returns its handle."""
    engine = engine_from_settings(settings)
    http = client or outbound_client()
    outbound = OutboundPolicy.from_settings(settings)
    handlers = default_handlers(
        registry=registry,
        client=http,
        outbound=outbound,
        drafter=drafter,
        isolated_retrains=settings if settings.isolate_retrains else None,
    )
    worker = Worker(make_session_factory(engine), handlers)
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run,
        args=(stop,),
        kwargs={"poll_seconds": poll_seconds},
        name="deshi-background-worker",
        daemon=True,
    )
    thread.start()
    return BackgroundWorker(worker, thread, stop, engine, http)
