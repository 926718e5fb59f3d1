"""Your own account: change your password (for instance the one-time password an admin gave
you, which the admin saw).

The form posts the current password, the new one and the new one repeated. The change ends
your other browser sessions; this one stays signed in (`deshi.auth.service.change_own_password`).
A refusal re-renders the form with its reason in your language, never with a password in it.
A wrong current password counts as a failed sign-in (`deshi.auth.throttle`): past the free
failures the form answers 429 with Retry-After and says how long to wait, so a stolen session
cannot guess the password faster than the sign-in form allows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from deshi.auth.service import MIN_PASSWORD_LENGTH, change_own_password
from deshi.errors import AuthenticationFailed, TooManyAttempts, ValidationFailed
from deshi.web.deps import (
    LoginThrottleDep,
    PasswordHasherDep,
    SessionDep,
    client_address,
    now_of,
)
from deshi.web.ui.deps import CsrfDep, Viewer, ViewerDep, render

__all__ = ["PATH", "router"]

router = APIRouter(include_in_schema=False)

PATH = "/account/password"
Secret = Annotated[str, Form(max_length=1024)]
Problem = Literal["mismatch", "wrong", "short", "same", "throttled"]  # why a change was refused


def _form(
    request: Request,
    viewer: Viewer,
    *,
    status_code: int = 200,
    problem: Problem | None = None,
    changed: bool = False,
    retry_after: int | None = None,
) -> Response:
    """The form, with the reason of a refusal (translated by the template) or the notice of a
    change; never a password."""
    page = render(
        request,
        "account_password.html",
        locale=viewer.locale,
        viewer=viewer,
        status_code=status_code,
        min_length=MIN_PASSWORD_LENGTH,
        problem=problem,
        changed=changed,
        retry_after=retry_after,
    )
    if retry_after is not None:
        page.headers["Retry-After"] = str(retry_after)
    return page


@router.get(PATH, response_class=HTMLResponse)
def password_page(request: Request, viewer: ViewerDep, changed: bool = False) -> Response:
    """The change-your-password form (with a notice after a change)."""
    return _form(request, viewer, changed=changed)


@router.post(PATH, dependencies=[CsrfDep])
def change_password(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
    current_password: Secret,
    new_password: Secret,
    repeat_password: Secret,
) -> Response:
    """Change the viewer's password; the other sessions end, this one stays signed in."""
    if new_password != repeat_password:
        return _form(request, viewer, status_code=422, problem="mismatch")
    try:
        # No savepoint: a refusal has written nothing but the throttle's count, which must be
        # committed (returning the form commits the request's transaction).
        change_own_password(
            db,
            user_id=viewer.principal.user_id,
            current_password=current_password,
            new_password=new_password,
            password_hasher=hasher,
            keep_session_token=viewer.session.token,
            address=client_address(request),
            throttle=throttle,
            now=now_of(request),
        )
    except TooManyAttempts as throttled:
        return _form(
            request,
            viewer,
            status_code=throttled.status_code,
            problem="throttled",
            retry_after=throttled.retry_after,
        )
    except AuthenticationFailed:
        return _form(request, viewer, status_code=401, problem="wrong")
    except ValidationFailed:
        problem: Problem = "short" if len(new_password) < MIN_PASSWORD_LENGTH else "same"
        return _form(request, viewer, status_code=422, problem=problem)
    return RedirectResponse(f"{PATH}?changed=1", status_code=303)
