"""The workspace's data-use page: what may leave the workspace, where to, and what protects it,
read from the running configuration (not typed in), so it cannot drift from what the server does.
Every signed-in user may read it: the people whose work flows through deshi should know the
rules."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from deshi.drafting.local import LocalDrafter
from deshi.drafting.remote import ChatDrafter
from deshi.privacy import Kind
from deshi.web.api.drafting import DrafterDep
from deshi.web.ui.deps import ViewerDep, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/data-policy", response_class=HTMLResponse)
def data_policy(request: Request, viewer: ViewerDep, drafter: DrafterDep) -> Response:
    """What leaves the workspace: the configured drafting model (if any), what is sent to it,
    what is replaced before, and what webhooks carry."""
    remote = drafter if isinstance(drafter, ChatDrafter) else None
    local = drafter if isinstance(drafter, LocalDrafter) else None
    return render(
        request,
        "data_policy.html",
        locale=viewer.locale,
        viewer=viewer,
        endpoint=remote.base_url if remote else None,
        model=remote.model if remote else None,
        local_model=local.model if local else None,
        kinds=[kind.value for kind in Kind],
        allowed=_allowed_destinations(request),
    )


def _allowed_destinations(request: Request) -> list[str]:
    """The internal hosts and networks webhooks may post to (`DESHI_WEBHOOK_ALLOW_HOSTS`)."""
    outbound = request.app.state.api_config.outbound
    return sorted(outbound.allow_hosts) + [str(n) for n in outbound.allow_networks]
