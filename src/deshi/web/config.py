"""Small value object with the API's limits, set when the app is created."""

from __future__ import annotations

from dataclasses import dataclass, field

from deshi.items.service import IngestLimits
from deshi.reviews.service import DEFAULT_LEASE_SECONDS
from deshi.settings import Settings
from deshi.webhooks.outbound import OutboundPolicy

__all__ = ["ApiConfig"]


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Request size limits, the review lease length, and whether the app runs the background
    worker (retrains, webhook deliveries, go-live and drift checks) in a thread of its own: right
    for one node; off in tests and when separate worker processes run the jobs. `freeze_gc` is
    for long-running servers (see `create_app`), and so are `warm_agents` (build every active
    process's agent in a thread at start, so the first answer after a restart does not wait for
    it), `agent_refresh_seconds` (then bring the agents held up to date with what other
    processes stored that often; 0: only when used), `heap_release_seconds` (hand freed
    memory back to the system that often; 0: never) and `kpi_inline_seconds` (serve a stale KPI
    read that took at least that long from its stored result while a child process recomputes
    it; None: every view computes while it waits, `deshi.kpis.refresh`).
    `outbound` decides which webhook URLs may be registered."""

    limits: IngestLimits = field(default_factory=IngestLimits)
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    background_worker: bool = False
    freeze_gc: bool = False
    warm_agents: bool = False
    agent_refresh_seconds: float = 0
    heap_release_seconds: float = 0
    kpi_inline_seconds: float | None = None
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        background_worker: bool = False,
        long_running: bool = False,
    ) -> ApiConfig:
        """The limits and lease length the settings ask for; a `long_running` server (`deshi
        serve`) also freezes the start-up objects out of the collector's reach, builds its
        agents at start, keeps them up to date, releases freed memory as often as the settings
        say and recomputes slow KPI reads in the background."""
        return cls(
            limits=IngestLimits(
                max_text_chars=settings.max_text_chars, max_batch=settings.max_batch_items
            ),
            lease_seconds=settings.lease_seconds,
            background_worker=background_worker,
            freeze_gc=long_running,
            warm_agents=long_running,
            agent_refresh_seconds=settings.agent_refresh_seconds if long_running else 0,
            heap_release_seconds=settings.heap_release_seconds if long_running else 0,
            kpi_inline_seconds=settings.kpi_inline_seconds if long_running else None,
            outbound=OutboundPolicy.from_settings(settings),
        )
