"""Tables of history import: each import's summary and the label audit's flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["HistoryImport", "LabelFlag"]


class HistoryImport(Base):
    """One import of a team's labelled history into a process, with what it found."""

    __tablename__ = "history_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300), default="")  # file name, or "api"
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)  # deshi.history.models
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelFlag(Base):
    """A history item whose label looks wrong (deshi.history.audit), until an owner decides."""

    __tablename__ = "label_flags"
    __table_args__ = (Index("ix_label_flags_process_id_status", "process_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    label: Mapped[str] = mapped_column(String(200))  # the label when flagged
    suggested_label: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)  # how suspicious: higher first
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # why: deshi.history.audit
    status: Mapped[str] = mapped_column(String(16), default="open")  # deshi.domain.FlagStatus
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
