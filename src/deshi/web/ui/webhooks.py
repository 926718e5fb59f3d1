"""The webhooks page of a process: list, add (the signing secret is shown once), remove.

Same permission (manage the process) and the same destination policy as the API: a URL whose
host resolves to an internal address is refused unless `DESHI_WEBHOOK_ALLOW_HOSTS` lists it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from deshi.errors import DeshiError
from deshi.inputs import validated
from deshi.permissions import Action
from deshi.processes.service import get_process_for
from deshi.web.deps import ConfigDep, SessionDep
from deshi.web.params import PathId
from deshi.web.ui.deps import CsrfDep, Viewer, ViewerDep, render
from deshi.webhooks import service
from deshi.webhooks.models import WebhookCreate

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    process = get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
    return render(
        request,
        "admin/webhooks.html",
        locale=viewer.locale,
        viewer=viewer,
        status_code=status_code,
        process=process,
        webhooks=service.list_webhooks(db, principal=viewer.principal, process_id=process_id),
        events=service.EVENTS,
        **context,
    )


@router.get("/admin/processes/{process_id}/webhooks", response_class=HTMLResponse)
def webhooks_page(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """The process's webhooks and a form to add one."""
    return _page(request, viewer, db, process_id)


@router.post("/admin/processes/{process_id}/webhooks", dependencies=[CsrfDep])
def add_webhook(
    process_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    config: ConfigDep,
    url: Annotated[str, Form()],
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Register a webhook; the answer shows its signing secret, only this once."""
    try:
        data = validated(WebhookCreate, {"url": url.strip(), "events": events or []})
        with db.begin_nested():  # a refusal undoes only this form's changes
            created = service.create_webhook(
                db,
                principal=viewer.principal,
                process_id=process_id,
                data=data,
                outbound=config.outbound,
            )
    except DeshiError as exc:
        return _page(request, viewer, db, process_id, exc.status_code, error=exc.detail, url=url)
    return _page(request, viewer, db, process_id, 201, created=created)


@router.post("/admin/processes/{process_id}/webhooks/{webhook_id}/remove", dependencies=[CsrfDep])
def remove_webhook(
    process_id: PathId, webhook_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Remove a webhook: nothing more is sent to it."""
    try:
        with db.begin_nested():
            service.delete_webhook(
                db, principal=viewer.principal, process_id=process_id, webhook_id=webhook_id
            )
    except DeshiError as exc:
        return _page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return RedirectResponse(f"/admin/processes/{process_id}/webhooks", status_code=303)
