"""A KPI read computed again in the child process of `deshi.kpis.refresh`: the report, the
warnings or the drafting report of one process, stored in `kpi_snapshots` for the server's
next view.

The child opens one engine on the server's database (its settings cross with each read) and
keeps it for the reads that follow, with BLAS on the settings' threads as the server has it.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from deshi.db import engine_from_settings, make_session_factory, transaction
from deshi.engine.blas import limit_blas_threads
from deshi.errors import NotFound
from deshi.kpis.context import get_process, parse_arm
from deshi.kpis.drafting_report import process_drafting_report
from deshi.kpis.kpi_report import kpi_report
from deshi.kpis.process_warnings import process_warnings
from deshi.kpis.refresh import KpiRead
from deshi.settings import Settings

__all__ = ["recompute_read"]

logger = logging.getLogger(__name__)

_factories: dict[str, sessionmaker[Session]] = {}  # by database URL, in this process


def recompute_read(settings: Settings, read: KpiRead) -> None:
    """Compute `read` on the data as it is now and store it (the KPI cache does both)."""
    with transaction(_factory(settings), lock_early=False) as session:
        try:
            process = get_process(session, read.process_id)
        except NotFound:  # deleted since the view: nothing to show any more
            logger.info("KPI read %s: process %s is gone", read.key, read.process_id)
            return
        if read.kind == "kpis":
            kpi_report(
                session,
                process,
                start=read.start,
                end=read.end,
                arm=parse_arm(read.arm),
                now=read.now,
            )
        elif read.kind == "warnings":
            process_warnings(session, process, now=read.now)
        else:
            process_drafting_report(
                session, process, start=read.start, end=read.end, arm=parse_arm(read.arm)
            )


def _factory(settings: Settings) -> sessionmaker[Session]:
    url = settings.database_url
    if url not in _factories:
        limit_blas_threads(settings.blas_threads)
        _factories[url] = make_session_factory(engine_from_settings(settings))
    return _factories[url]
