"""Webhook use cases: register, list and remove a process's webhooks; each change is audited.

Managing webhooks needs `manage_process` on the process (owners and admins); the operator's
variants (`register_webhook`, `active_webhooks`, `deactivate_webhook`, used by `deshi webhook`)
check no role, like every command of the workspace operator. The signing secret
is returned once, at registration, and never copied into the audit log. A URL is registered only
when `deshi.webhooks.outbound` finds it a public destination (or an allow-listed internal one).
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from deshi.audit import record_event, snapshot
from deshi.db.tables import Webhook
from deshi.errors import NotFound, ValidationFailed
from deshi.permissions import Action, Principal
from deshi.processes.service import get_process, get_process_for
from deshi.webhooks.delivery import DRAFT_SENT, ITEM_COMPLETED, ITEM_DECIDED, PROCESS_DRIFT
from deshi.webhooks.models import WebhookCreate, WebhookCreated, WebhookPublic
from deshi.webhooks.outbound import (
    OutboundPolicy,
    RefusedDestinationError,
    UnresolvedHostError,
    check_destination,
)

__all__ = [
    "EVENTS",
    "SECRET_MARK",
    "active_webhooks",
    "create_webhook",
    "deactivate_webhook",
    "delete_webhook",
    "list_webhooks",
    "register_webhook",
]

EVENTS = (ITEM_DECIDED, ITEM_COMPLETED, PROCESS_DRIFT, DRAFT_SENT)
SECRET_MARK = "whsec_"
_HIDDEN = frozenset({"secret"})


def create_webhook(
    session: Session,
    *,
    principal: Principal,
    process_id: int,
    data: WebhookCreate,
    outbound: OutboundPolicy,
) -> WebhookCreated:
    """Register an active webhook for a process the caller manages (see `register_webhook`)."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return register_webhook(
        session, actor=principal.actor, process_id=process.id, data=data, outbound=outbound
    )


def register_webhook(
    session: Session,
    *,
    actor: str,
    process_id: int,
    data: WebhookCreate,
    outbound: OutboundPolicy,
) -> WebhookCreated:
    """Register an active webhook with a new random secret; the secret is returned only here.

    The URL's host is resolved now, with `outbound`'s resolver, and refused (422 on `url`) when
    it does not resolve or any of its addresses is internal and not allow-listed."""
    process = get_process(session, process_id)
    unknown = sorted(set(data.events) - set(EVENTS))
    if unknown:
        raise ValidationFailed(f"unknown events {unknown}; known: {list(EVENTS)}", field="events")
    try:
        check_destination(str(data.url), outbound)
    except (RefusedDestinationError, UnresolvedHostError) as exc:
        raise ValidationFailed(f"url: {exc}", field="url") from None
    hook = Webhook(
        process_id=process.id,
        url=str(data.url),
        secret=SECRET_MARK + secrets.token_urlsafe(32),
        events=list(dict.fromkeys(data.events)),
        active=True,
    )
    session.add(hook)
    session.flush()
    after = snapshot(hook, exclude=_HIDDEN)
    record_event(session, actor=actor, action="webhook.create", obj=hook, after=after)
    return WebhookCreated.model_validate(
        {**WebhookPublic.model_validate(hook).model_dump(), "secret": hook.secret}
    )


def list_webhooks(
    session: Session, *, principal: Principal, process_id: int
) -> list[WebhookPublic]:
    """The active webhooks of a process the caller manages, without their secrets."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    return active_webhooks(session, process_id=process.id)


def active_webhooks(session: Session, *, process_id: int) -> list[WebhookPublic]:
    """The process's active webhooks, without their secrets."""
    process = get_process(session, process_id)
    query = (
        select(Webhook)
        .where(Webhook.process_id == process.id, Webhook.active.is_(True))
        .order_by(Webhook.id)
    )
    return [WebhookPublic.model_validate(hook) for hook in session.scalars(query)]


def delete_webhook(
    session: Session, *, principal: Principal, process_id: int, webhook_id: int
) -> None:
    """Deactivate a webhook of a process the caller manages (see `deactivate_webhook`)."""
    process = get_process_for(session, principal, process_id, Action.MANAGE_PROCESS)
    deactivate_webhook(session, actor=principal.actor, process_id=process.id, webhook_id=webhook_id)


def deactivate_webhook(session: Session, *, actor: str, process_id: int, webhook_id: int) -> None:
    """Deactivate a webhook: nothing more is sent to it, its delivery history stays."""
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.process_id != process_id or not hook.active:
        raise NotFound(f"webhook {webhook_id} not found")
    before = snapshot(hook, exclude=_HIDDEN)
    hook.active = False
    after = snapshot(hook, exclude=_HIDDEN)
    record_event(
        session, actor=actor, action="webhook.delete", obj=hook, before=before, after=after
    )
