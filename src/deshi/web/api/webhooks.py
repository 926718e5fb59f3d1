"""Webhook routes: register one for a process (its secret is shown once), list, remove."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from deshi.web.deps import PrincipalDep, SessionDep
from deshi.webhooks import service
from deshi.webhooks.models import WebhookCreate, WebhookCreated, WebhookPublic

router = APIRouter(prefix="/processes/{process_id}/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    process_id: int, body: WebhookCreate, session: SessionDep, principal: PrincipalDep
) -> WebhookCreated:
    """Register a webhook; the response holds its signing secret, shown only this once."""
    return service.create_webhook(session, principal=principal, process_id=process_id, data=body)


@router.get("", response_model=list[WebhookPublic])
def list_webhooks(
    process_id: int, session: SessionDep, principal: PrincipalDep
) -> list[WebhookPublic]:
    """The process's active webhooks (never their secrets)."""
    return service.list_webhooks(session, principal=principal, process_id=process_id)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    process_id: int, webhook_id: int, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove a webhook: nothing more is sent to it; its delivery history stays."""
    service.delete_webhook(
        session, principal=principal, process_id=process_id, webhook_id=webhook_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
