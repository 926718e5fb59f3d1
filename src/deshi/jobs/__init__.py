"""Durable background jobs on the database: the queue (`queue`), the worker loop (`worker`) and
the time both go by (`clock`)."""

from deshi.jobs.queue import (
    ClaimedJob,
    LeaseLostError,
    backoff,
    claim,
    enqueue,
    finish,
    retry_or_fail,
)

__all__ = ["ClaimedJob", "LeaseLostError", "backoff", "claim", "enqueue", "finish", "retry_or_fail"]
