"""Webhook routes: register one for a process (its secret is shown once), list, remove."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from deshi.web.deps import ConfigDep, PrincipalDep, SessionDep
from deshi.web.params import PathId
from deshi.webhooks import service
from deshi.webhooks.models import WebhookCreate, WebhookCreated, WebhookPublic

router = APIRouter(prefix="/processes/{process_id}/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    process_id: PathId,
    body: WebhookCreate,
    session: SessionDep,
    principal: PrincipalDep,
    config: ConfigDep,
) -> WebhookCreated:
    """Register a webhook; the response holds its signing secret, shown only this once.

    The URL must be http or https without credentials, and its host must resolve to public
    addresses only (loopback, private, link-local, CGNAT, multicast and reserved addresses are
    refused unless `DESHI_WEBHOOK_ALLOW_HOSTS` lists them): 422 naming `url` otherwise."""
    return service.create_webhook(
        session, principal=principal, process_id=process_id, data=body, outbound=config.outbound
    )


@router.get("", response_model=list[WebhookPublic])
def list_webhooks(
    process_id: PathId, session: SessionDep, principal: PrincipalDep
) -> list[WebhookPublic]:
    """The process's active webhooks (never their secrets)."""
    return service.list_webhooks(session, principal=principal, process_id=process_id)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    process_id: PathId, webhook_id: PathId, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove a webhook: nothing more is sent to it; its delivery history stays."""
    service.delete_webhook(
        session, principal=principal, process_id=process_id, webhook_id=webhook_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
