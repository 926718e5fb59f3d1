"""Tables of the process inventory: candidate processes a department might hand to an agent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, utcnow

__all__ = ["InventoryCandidate"]


class InventoryCandidate(Base):
    """A proposed process with the figures its expected savings and ranking are computed from."""

    __tablename__ = "inventory_candidates"
    __table_args__ = (
        UniqueConstraint("department_id", "name"),  # the ranking breaks ties by name
        CheckConstraint("exception_rate >= 0 AND exception_rate <= 1", name="exception_rate"),
        CheckConstraint("measurability >= 1 AND measurability <= 5", name="measurability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    monthly_volume: Mapped[float] = mapped_column(Float)
    minutes_per_item: Mapped[float] = mapped_column(Float)
    exception_rate: Mapped[float] = mapped_column(Float)  # share that needs a human regardless
    measurability: Mapped[int]  # 1 (no outcome data) .. 5 (every outcome recorded)
    hourly_rate: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))  # audit actor, e.g. "user:3"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
