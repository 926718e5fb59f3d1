"""Durable background jobs on the database: the queue (`queue`), the worker loop (`worker`)."""

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
