"""The application factory: `create_app(settings)` is what `deshi serve` runs and tests drive.

The app owns its agent registry (`app.state.registry`, reached by routes through `RegistryDep`):
pass `registry=AgentRegistry(make_decider=...)` to run every process's agent with another
`deshi.engine.Decider`. Likewise it owns the password hasher built from
`settings.password_hash_profile` (`app.state.password_hasher`, reached through
`PasswordHasherDep`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.passwords import PasswordHasher
from deshi.db import engine_from_settings, make_session_factory
from deshi.db.base import utcnow
from deshi.drafting.core import Drafter
from deshi.drafting.service import make_drafter
from deshi.engine.heap import release_free_heap_every
from deshi.knowledge import KnowledgeIndex
from deshi.kpis.recompute import recompute_read
from deshi.kpis.refresh import KpiRefresher, child_process_pool
from deshi.learning.registry import AgentRegistry
from deshi.settings import Settings
from deshi.web.api import (
    admin,
    audit,
    drafting,
    health,
    history,
    inventory,
    items,
    knowledge,
    kpis,
    model_versions,
    processes,
    queue,
    webhooks,
)
from deshi.web.body_limit import BodyLimit
from deshi.web.config import ApiConfig
from deshi.web.errors import install_error_handlers
from deshi.web.metrics import Metrics
from deshi.web.metrics import router as metrics_router
from deshi.web.openapi import install_api_docs, install_openapi
from deshi.web.request_context import RequestContextMiddleware
from deshi.web.ui import history as history_pages
from deshi.web.ui import install_ui, login_throttle, session_policy
from deshi.web.ui import knowledge as knowledge_pages

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    config: ApiConfig | None = None,
    registry: AgentRegistry | None = None,
    drafter: Drafter | None = None,
) -> FastAPI:
    """Build the API on the settings' database; limits and the lease length come from the
    settings unless `config` is given, the agents from `registry` (unless given, a new
    `AgentRegistry` with the default decider and the settings' training threads), drafts from
    `drafter` (unless given, the settings': `deshi.drafting.service.make_drafter`). The engine
    is disposed at shutdown."""
    engine = engine_from_settings(settings)

    config = config or ApiConfig.from_settings(settings)
    registry = registry or AgentRegistry(training_threads=settings.training_threads)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if config.freeze_gc:
            # The ~200k objects that imports create live as long as the server; moved out of
            # the collector's reach, full collections during big batches stop rescanning them
            # (measured: ~20% of a 500-item batch request went to the cyclic GC).
            gc.collect()
            gc.freeze()
        threads_stop = threading.Event()
        if config.warm_agents:
            factory = _app.state.session_factory
            _app.state.agent_upkeep = _start_agent_upkeep(
                registry, factory, config.agent_refresh_seconds, threads_stop
            )
        if config.heap_release_seconds:
            _app.state.heap_release = _start_heap_release(config.heap_release_seconds, threads_stop)
        worker = None
        if config.background_worker:
            from deshi.web.background import start_background_worker

            worker = start_background_worker(
                settings, registry=registry.sibling(), drafter=_app.state.drafter
            )
        try:
            yield
        finally:
            if _app.state.kpi_refresher is not None:
                _app.state.kpi_refresher.close()
            threads_stop.set()
            if worker is not None:
                worker.stop(settings.shutdown_grace_seconds)
            engine.dispose()

    app = FastAPI(
        title="deshi",
        summary="Learning agents for back-office work, within an error budget you set.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,  # served by install_api_docs, behind sign-in unless public
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.api_config = config
    app.state.registry = registry
    app.state.password_hasher = PasswordHasher(settings.password_hash_profile)
    app.state.login_throttle = login_throttle(settings)
    app.state.clock = utcnow  # sessions and login throttling; tests set their own clock
    app.state.knowledge = KnowledgeIndex()  # the knowledge base's embedder and vector cache
    app.state.drafter = drafter or make_drafter(settings)
    app.state.kpi_refresher = _kpi_refresher(settings, config)
    install_error_handlers(app)
    routers = (
        health,
        processes,
        items,
        queue,
        kpis,
        webhooks,
        inventory,
        admin,
        model_versions,
        audit,
        knowledge,
        drafting,
        history,
    )
    for module in routers:
        app.include_router(module.router)
    install_openapi(app)
    install_api_docs(app, public=settings.public_api_docs)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    install_ui(  # the browser pages, /static and the session cookie
        app,
        secret_key=secret,
        sessions=session_policy(settings),
        secure_cookies=settings.secure_cookies,
    )
    app.include_router(knowledge_pages.router)  # the knowledge base's pages
    app.include_router(history_pages.router)  # history import and the label audit
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # before any parsing
    _install_operations(app, settings)
    return app


def _kpi_refresher(settings: Settings, config: ApiConfig) -> KpiRefresher | None:
    """Slow KPI reads recomputed in a child process (`deshi serve`), or None: computed while
    the viewer waits. The child starts with the first read it is given."""
    if config.kpi_inline_seconds is None:
        return None
    return KpiRefresher(
        partial(child_process_pool, settings),
        partial(recompute_read, settings),
        inline_seconds=config.kpi_inline_seconds,
    )


def _install_operations(app: FastAPI, settings: Settings) -> None:
    """`/metrics` (when enabled) and the request-id middleware, outermost so that its id and
    access line cover every other middleware."""
    token = settings.metrics_token if settings.metrics_enabled else None  # both, or off
    metrics = Metrics(app.state.session_factory, app.state.registry) if token else None
    app.state.metrics = metrics
    app.state.metrics_token = token.get_secret_value().encode() if token else None
    app.include_router(metrics_router)
    observe = metrics.observe_request if metrics else None
    app.add_middleware(RequestContextMiddleware, observe=observe)


def _start_heap_release(seconds: float, stop: threading.Event) -> threading.Thread:
    """Hand freed heap memory back to the system every `seconds` until `stop` (heap.py)."""
    return _start_daemon("deshi-heap-release", release_free_heap_every, seconds, stop)


def _start_agent_upkeep(
    registry: AgentRegistry,
    factory: sessionmaker[Session],
    refresh_seconds: float,
    stop: threading.Event,
) -> threading.Thread:
    """Build the agents in a daemon thread, then keep them up to date every `refresh_seconds`
    (`AgentRegistry.keep_current`); the server answers meanwhile."""
    return _start_daemon("deshi-agents", registry.keep_current, factory, stop, refresh_seconds)


def _start_daemon(name: str, target: Callable[..., object], *args: object) -> threading.Thread:
    """A started daemon thread: it must not keep a stopping server's process alive."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
