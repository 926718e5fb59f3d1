"""Tables of operations: the audit log, outgoing webhooks and durable background jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deshi.db.base import Base, UTCDateTime, str_enum, utcnow

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "DeliveryStatus",
    "Job",
    "JobStatus",
    "Webhook",
    "WebhookDelivery",
]


class AuditEvent(Base):
    """One append-only, hash-chained record of a state change (see deshi.audit)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_department_seq", "department_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who may read it (deshi.audit.departments); no foreign key: the log outlives its objects.
    department_id: Mapped[int | None] = mapped_column(nullable=True)
    # Which audit key made `hash` (an HMAC); None: a plain SHA-256 from before the chain was keyed.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AuditCheckpoint(Base):
    """The end of the audit chain's verified prefix, to resume verifying after it (one row,
    id 1; see deshi.audit.checkpoint). It adds no trust: it only saves re-hashing."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    head_seq: Mapped[int] = mapped_column(BigInteger)  # last verified event (its seq)
    head_hash: Mapped[str] = mapped_column(String(64))  # that event's hash when verified
    event_count: Mapped[int] = mapped_column(BigInteger)  # events with seq <= head_seq then
    keyed_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    unscoped: Mapped[int] = mapped_column(BigInteger)  # unscoped events in the prefix
    full: Mapped[bool] = mapped_column()  # True: the last verification read every event
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Webhook(Base):
    """An endpoint notified of a process's events; payloads are signed with `secret`."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[Any]] = mapped_column(default=list)  # event names; empty = all
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryStatus(StrEnum):
    """State of one webhook delivery."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last retry


class WebhookDelivery(Base):
    """One event to deliver to one webhook, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobStatus(StrEnum):
    """State of a background job."""

    QUEUED = "queued"
    RUNNING = "running"  # locked_by holds it until locked_until; then it may be re-taken
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """Background work stored in the database so it survives crashes and restarts."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
