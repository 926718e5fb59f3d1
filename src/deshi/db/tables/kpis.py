"""The KPI read cache: a process's computed KPI report or warnings, kept with the fingerprint of
the data they were computed from (deshi.kpis.cache).

A row is a memo, never a source of truth: every API and worker process compares the stored
fingerprint with the data's current one and recomputes on any difference, so a stale row can
only cost a recomputation. One row per (process, key); the key names what was computed and the
part of the clock it depends on (e.g. the ISO week of "now").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["KpiSnapshot"]


class KpiSnapshot(Base):
    """One computed KPI read of a process and the data fingerprint it was computed on."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (UniqueConstraint("process_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int]  # no foreign key: a memo must never hold up or block a process row
    key: Mapped[str] = mapped_column(String(200))  # what and for which period / clock bucket
    watermark: Mapped[str] = mapped_column(String(64))  # hex sha256 (deshi.kpis.cache)
    fingerprint: Mapped[str] = mapped_column(String(64))  # hex sha256 (deshi.kpis.cache)
    payload: Mapped[str] = mapped_column(Text)  # the result as JSON
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # how long computing it took; a server may serve a slow read's stored result while it
    # recomputes it in the background (deshi.kpis.refresh). None: not measured (before 0025)
    seconds: Mapped[float | None] = mapped_column(Float)
