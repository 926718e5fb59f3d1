"""Queue and deliver webhook events; each attempt is one job, recorded on its delivery row."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import DeliveryStatus, Process, Webhook, WebhookDelivery
from deshi.jobs.queue import backoff, enqueue
from deshi.jobs.worker import Handler, JobRun
from deshi.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = [
    "ITEM_COMPLETED",
    "ITEM_DECIDED",
    "MAX_DELIVERY_ATTEMPTS",
    "WEBHOOK_JOB",
    "deliver",
    "delivery_handler",
    "enqueue_event",
    "enqueue_events",
    "render_body",
]

ITEM_DECIDED = "item.decided"
ITEM_COMPLETED = "item.completed"
WEBHOOK_JOB = "webhooks.deliver"
MAX_DELIVERY_ATTEMPTS = 8  # 2s, 4s, … ≈ 4 minutes of retries in all
TIMEOUT_SECONDS = 10.0


def enqueue_event(
    session: Session, *, process: Process, event: str, payload: Mapping[str, Any]
) -> list[WebhookDelivery]:
    """Queue one delivery per active webhook of the process that listens to `event` (an empty
    event list means every event), in the caller's transaction."""
    return enqueue_events(session, process=process, events=[(event, payload)])


def enqueue_events(
    session: Session, *, process: Process, events: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[WebhookDelivery]:
    """`enqueue_event` for many (event, payload) pairs: the webhooks are read once, and a
    process without webhooks costs one query however many events there are."""
    if not events:
        return []
    hooks = list(
        session.scalars(
            select(Webhook)
            .where(Webhook.process_id == process.id, Webhook.active.is_(True))
            .order_by(Webhook.id)
        )
    )
    now = utcnow()
    deliveries = [
        WebhookDelivery(
            webhook_id=hook.id,
            event=event,
            payload=dict(payload),
            next_attempt_at=now,
            status=DeliveryStatus.PENDING,
        )
        for event, payload in events
        for hook in hooks
        if not hook.events or event in hook.events
    ]
    if not deliveries:
        return []
    session.add_all(deliveries)
    session.flush()
    for delivery in deliveries:
        enqueue(session, kind=WEBHOOK_JOB, payload={"delivery_id": delivery.id})
    return deliveries


def render_body(delivery: WebhookDelivery, timestamp: int) -> bytes:
    """The exact bytes sent (and signed) for one attempt."""
    document = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "timestamp": timestamp,
        "data": delivery.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def deliver(run: JobRun, delivery_id: int, *, client: httpx.Client) -> None:
    """Make one attempt; on failure schedule the next one with exponential back-off, or give
    up after MAX_DELIVERY_ATTEMPTS. The attempt is recorded on the delivery row.

    The POST is made with no transaction open, so a slow receiver holds no database lock.
    """
    with run.reading() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return  # already delivered or given up (e.g. a re-run after a lost lease)
        hook = session.get(Webhook, delivery.webhook_id)
    error = _post(delivery, hook, client) if hook is not None and hook.active else "inactive"
    with run.finishing() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_error = error
        if error is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DELIVERED, None
        elif error == "inactive" or delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
            payload = {"delivery_id": delivery.id}
            enqueue(session, kind=WEBHOOK_JOB, payload=payload, run_after=delivery.next_attempt_at)


def _post(delivery: WebhookDelivery, hook: Webhook, client: httpx.Client) -> str | None:
    """POST the signed body; None on a 2xx answer, else why it failed."""
    timestamp = int(time.time())
    body = render_body(delivery, timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "deshi-webhooks",
        "X-Deshi-Event": delivery.event,
        "X-Deshi-Delivery": str(delivery.id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(hook.secret, body),
    }
    try:
        response = client.post(hook.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:2000]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


def delivery_handler(client: httpx.Client) -> Handler:
    """The job handler for WEBHOOK_JOB."""

    def handle(run: JobRun) -> None:
        deliver(run, int(run.job.payload["delivery_id"]), client=client)

    return handle
