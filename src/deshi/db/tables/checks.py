"""Tables of the go-live check and the drift detector (issue #22): what the agent would have done
on the most recent slice of the history, and whether live items still resemble the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["DriftState", "GoLiveCheck"]


class GoLiveCheck(Base):
    """One go-live check of a process: queued, then done (with its figures) or failed."""

    __tablename__ = "golive_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # deshi.history.golive
    requested_by: Mapped[str] = mapped_column(String(200))
    error_budget: Mapped[float] = mapped_column(Float)  # ε at the time of the request
    confidence: Mapped[float] = mapped_column(Float)  # 1 − δ at the time of the request
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the figures, once done
    error: Mapped[str | None] = mapped_column(Text)  # why it failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DriftState(Base):
    """The drift detector's last verdict on a process; `since` marks the onset of the current
    drift, so its webhook fires once per onset (deshi.items.drift)."""

    __tablename__ = "drift_states"

    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    drifting: Mapped[bool] = mapped_column(default=False)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # onset of the current drift
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the last check's numbers
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
