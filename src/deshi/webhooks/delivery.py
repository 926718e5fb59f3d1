"""Queue and deliver webhook events; each attempt is one job, recorded on its delivery row.

Before each attempt the URL is checked again by `deshi.webhooks.outbound` with a fresh DNS
lookup, and the request goes to the address that passed. A refused destination fails the
delivery at once, with `last_error` starting `refused: ` (`count_failed_deliveries` counts them).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import httpx
from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from deshi.db.base import utcnow
from deshi.db.tables import DeliveryStatus, Process, Webhook, WebhookDelivery
from deshi.jobs.queue import backoff, enqueue
from deshi.jobs.worker import Handler, JobRun
from deshi.webhooks.outbound import (
    TIMEOUT_SECONDS,
    OutboundPolicy,
    RefusedDestinationError,
    UnresolvedHostError,
    check_destination,
)
from deshi.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = [
    "DRAFT_SENT",
    "ITEM_COMPLETED",
    "ITEM_DECIDED",
    "MAX_DELIVERY_ATTEMPTS",
    "PROCESS_DRIFT",
    "REFUSED_PREFIX",
    "WEBHOOK_JOB",
    "FailedDeliveries",
    "count_failed_deliveries",
    "deliver",
    "delivery_handler",
    "enqueue_event",
    "enqueue_events",
    "render_body",
    "withdraw_unsent",
]

ITEM_DECIDED = "item.decided"
ITEM_COMPLETED = "item.completed"
PROCESS_DRIFT = "process.drift"  # live items stopped resembling the history (deshi.items.drift)
DRAFT_SENT = "draft.sent"  # a reply sent without review (deshi.drafting.autosend_job)
WEBHOOK_JOB = "webhooks.deliver"
MAX_DELIVERY_ATTEMPTS = 8  # 2s, 4s, … ≈ 4 minutes of retries in all
REFUSED_PREFIX = "refused: "  # how `last_error` marks a destination the policy refused

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why an attempt failed; `final` failures are not retried."""

    reason: str
    final: bool = False


class FailedDeliveries(NamedTuple):
    """Deliveries given up: all of them, and those refused by the address policy."""

    failed: int
    refused: int


def enqueue_event(
    session: Session, *, process: Process, event: str, payload: Mapping[str, Any]
) -> list[WebhookDelivery]:
    """Queue one delivery per active webhook of the process that listens to `event` (an empty
    event list means every event), in the caller's transaction."""
    return enqueue_events(session, process=process, events=[(event, payload)])


def enqueue_events(
    session: Session,
    *,
    process: Process,
    events: Sequence[tuple[str, Mapping[str, Any]]],
    not_before: datetime | None = None,
) -> list[WebhookDelivery]:
    """`enqueue_event` for many (event, payload) pairs: the webhooks are read once, and a
    process without webhooks costs one query however many events there are. With `not_before`
    the first attempt waits until then (a reviewed completion waits out its undo window)."""
    if not events:
        return []
    hooks = list(
        session.scalars(
            select(Webhook)
            .where(Webhook.process_id == process.id, Webhook.active.is_(True))
            .order_by(Webhook.id)
        )
    )
    due = not_before or utcnow()
    deliveries = [
        WebhookDelivery(
            webhook_id=hook.id,
            event=event,
            payload=dict(payload),
            next_attempt_at=due,
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
        enqueue(session, kind=WEBHOOK_JOB, payload={"delivery_id": delivery.id}, run_after=due)
    return deliveries


def withdraw_unsent(session: Session, *, process: Process, event: str, item_id: int) -> int:
    """Delete the deliveries of `event` about one item that were never attempted (their jobs
    then find nothing to send); returns how many. An undone answer withdraws its
    `item.completed` this way, so receivers never hear of a completion that was taken back."""
    hooks = select(Webhook.id).where(Webhook.process_id == process.id)
    unsent = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.webhook_id.in_(hooks),
            WebhookDelivery.event == event,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.attempts == 0,
        )
    ).all()
    withdrawn = [d for d in unsent if d.payload.get("item_id") == item_id]
    for delivery in withdrawn:
        session.delete(delivery)
    return len(withdrawn)


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


def deliver(
    run: JobRun, delivery_id: int, *, client: httpx.Client, outbound: OutboundPolicy
) -> None:
    """Make one attempt; on failure schedule the next one with exponential back-off, or give
    up after MAX_DELIVERY_ATTEMPTS (at once when `outbound` refuses the destination). The
    attempt is recorded on the delivery row.

    The POST is made with no transaction open, so a slow receiver holds no database lock.
    """
    with run.reading() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return  # already delivered or given up (e.g. a re-run after a lost lease)
        hook = session.get(Webhook, delivery.webhook_id)
    failure = (
        _post(delivery, hook, client, outbound)
        if hook is not None and hook.active
        else _Failure("inactive", final=True)
    )
    with run.finishing() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_error = None if failure is None else failure.reason
        if failure is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DELIVERED, None
        elif failure.final or delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
            payload = {"delivery_id": delivery.id}
            enqueue(session, kind=WEBHOOK_JOB, payload=payload, run_after=delivery.next_attempt_at)


def count_failed_deliveries(session: Session) -> FailedDeliveries:
    """How many deliveries were given up, and how many of those the address policy refused."""
    refused = WebhookDelivery.last_error.startswith(REFUSED_PREFIX, autoescape=True)
    refused_count = func.coalesce(func.sum(case((refused, 1), else_=0)), 0)
    query = select(func.count(), refused_count.cast(Integer)).where(
        WebhookDelivery.status == DeliveryStatus.FAILED
    )
    failed, refused_total = session.execute(query).one()
    return FailedDeliveries(failed, refused_total)


def _post(
    delivery: WebhookDelivery, hook: Webhook, client: httpx.Client, outbound: OutboundPolicy
) -> _Failure | None:
    """Check the destination again and POST the signed body to the address that passed; None
    on a 2xx answer, else why it failed."""
    try:
        target = check_destination(hook.url, outbound)
    except RefusedDestinationError as exc:
        logger.warning("webhook %s: delivery %s refused: %s", hook.id, delivery.id, exc)
        return _Failure(f"{REFUSED_PREFIX}{exc}"[:2000], final=True)
    except UnresolvedHostError as exc:
        return _Failure(f"DNS: {exc}"[:2000])
    timestamp = int(time.time())
    body = render_body(delivery, timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "deshi-webhooks",
        "X-Deshi-Event": delivery.event,
        "X-Deshi-Delivery": str(delivery.id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(hook.secret, body),
        "Host": target.host_header,
    }
    try:
        response = client.post(
            target.url,
            content=body,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
            extensions=target.extensions,
        )
    except httpx.HTTPError as exc:
        return _Failure(f"{type(exc).__name__}: {exc}"[:2000])
    if response.is_success:
        return None
    if response.is_redirect:
        return _Failure(f"HTTP {response.status_code} (redirects are not followed)")
    return _Failure(f"HTTP {response.status_code}")


def delivery_handler(client: httpx.Client, *, outbound: OutboundPolicy) -> Handler:
    """The job handler for WEBHOOK_JOB; `client` should come from
    `deshi.webhooks.outbound.outbound_client()`."""

    def handle(run: JobRun) -> None:
        deliver(run, int(run.job.payload["delivery_id"]), client=client, outbound=outbound)

    return handle
