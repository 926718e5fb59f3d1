"""Outgoing webhooks: `enqueue_event` on item decided / completed, signed deliveries with retries.

Deliveries are made by the job worker; see `delivery` for the retry schedule and `signing` for
the `X-Deshi-Signature` header receivers verify.
"""

from deshi.webhooks.delivery import (
    DRAFT_SENT,
    ITEM_COMPLETED,
    ITEM_DECIDED,
    PROCESS_DRIFT,
    enqueue_event,
    enqueue_events,
    withdraw_unsent,
)
from deshi.webhooks.signing import sign, verify

__all__ = [
    "DRAFT_SENT",
    "ITEM_COMPLETED",
    "ITEM_DECIDED",
    "PROCESS_DRIFT",
    "enqueue_event",
    "enqueue_events",
    "sign",
    "verify",
    "withdraw_unsent",
]
