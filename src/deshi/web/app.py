"""The application factory: `create_app(settings)` is what `deshi serve` runs and tests drive.

The app owns its agent registry (`app.state.registry`, reached by routes through `RegistryDep`):
pass `registry=AgentRegistry(make_decider=...)` to run every process's agent with another
`deshi.engine.Decider`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from deshi.db import engine_from_settings, make_session_factory
from deshi.learning.registry import AgentRegistry
from deshi.settings import Settings
from deshi.web.api import health, inventory, items, kpis, processes, queue, webhooks
from deshi.web.config import ApiConfig
from deshi.web.errors import install_error_handlers
from deshi.web.ui import install_ui

__all__ = ["create_app"]


def create_app(
    settings: Settings, *, config: ApiConfig | None = None, registry: AgentRegistry | None = None
) -> FastAPI:
    """Build the API on the settings' database; limits and the lease length come from the
    settings unless `config` is given, the agents from `registry` (unless given, a new
    `AgentRegistry` with the default decider and the settings' training threads). The engine
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
        worker = None
        if config.background_worker:
            from deshi.web.background import start_background_worker

            worker = start_background_worker(settings, registry=registry.sibling())
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            engine.dispose()

    app = FastAPI(
        title="deshi",
        summary="Learning agents for back-office work, within an error budget you set.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.api_config = config
    app.state.registry = registry
    install_error_handlers(app)
    for module in (health, processes, items, queue, kpis, webhooks, inventory):
        app.include_router(module.router)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    install_ui(app, secret_key=secret)  # the browser pages, /static and the session cookie
    return app
