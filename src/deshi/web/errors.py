"""The one place where errors become HTTP responses.

Who reads the answer decides its form, and the request says who that is:

- an **API client** (any route in the OpenAPI document, or no route at all) gets RFC 9457
  `application/problem+json`;
- the **workbench script** on a UI route (its fetches carry the CSRF token in the `X-CSRF-Token`
  header, which a navigation or a form post cannot set) gets problem+json too;
- a **person** on any other UI route gets the HTML error page with the error's status, or, for
  `LoginRequired`, a redirect to the sign-in page that comes back here afterwards, and for
  `TooManyAttempts` the sign-in page saying how long to wait. Both forms of a 429 carry
  `Retry-After`.

(The Accept header cannot tell the script from a person: the workbench asks for HTML too, since
its answers are HTML fragments.)

DeshiError subclasses carry their own status; request validation errors (bad JSON, wrong
types, unknown or missing fields) become 422 naming the first offending `field` and listing
all of them under `errors`; unknown routes and methods keep their 404/405; a database that does
not answer (down, restarting, locked) is a 503 with `Retry-After`, and a full disk a 507
(`database_error`); anything else is a 500 without internals. Only DeshiErrors (the database's
included) are rendered as pages: the others are problem+json for everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from deshi.db.failures import database_error, first_line
from deshi.errors import (
    AuthenticationFailed,
    DeshiError,
    LoginRequired,
    ServiceUnavailable,
    TooManyAttempts,
    ValidationFailed,
)
from deshi.web.ui.deps import page_locale, render
from deshi.web.ui.session import CSRF_HEADER

__all__ = [
    "PROBLEM_JSON",
    "install_error_handlers",
    "on_ui",
    "problem_response",
    "wants_page",
]

PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 5  # a restarting PostgreSQL is back within seconds
logger = logging.getLogger("deshi.web")


def on_ui(request: Request) -> bool:
    """Whether the request was routed to the browser UI: a route left out of the OpenAPI
    document (the API documents every route it has)."""
    route = request.scope.get("route")
    return route is not None and getattr(route, "include_in_schema", True) is False


def wants_page(request: Request) -> bool:
    """Whether a person reads this request's error (an HTML page), not a program: a UI
    route, not called by the workbench script (which sends its CSRF header), nor by a client
    that asks for JSON (`Accept: application/json`, or a `.json` URL such as the OpenAPI
    document)."""
    return on_ui(request) and CSRF_HEADER not in request.headers and not _asks_json(request)


def _asks_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    json_accepted = "application/json" in accept and "text/html" not in accept
    return json_accepted or request.url.path.endswith(".json")


def problem_response(
    request: Request, problem: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem+json response for `problem`, with the request path as `instance`."""
    body = {**problem, "instance": request.url.path}
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _error_page(request: Request, exc: DeshiError) -> Response:
    """The sign-in page for a missing session, and with a wait for throttled sign-ins; the
    error page with its status otherwise."""
    if isinstance(exc, LoginRequired):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if isinstance(exc, TooManyAttempts):
        page = render(
            request, "login.html", locale=page_locale(request), status_code=exc.status_code,
            retry_after=exc.retry_after, next="/",
        )  # fmt: skip
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return render(
        request,
        "error.html",
        locale=page_locale(request),
        status_code=exc.status_code,
        status=exc.status_code,
    )


def _field(loc: Sequence[int | str]) -> str:
    """('body', 'items', 3, 'text') → 'items[3].text'; the request part is dropped."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


async def _deshi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DeshiError)
    if wants_page(request):
        # Rendering may look the session up in the database: never on the event loop.
        return await run_in_threadpool(_error_page, request, exc)
    # The Bearer challenge is the API's; the UI's sessions start on its sign-in page.
    challenge = isinstance(exc, AuthenticationFailed) and not on_ui(request)
    headers = {"WWW-Authenticate": "Bearer"} if challenge else {}
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(request, exc.to_problem(), headers or None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": "body" if e.get("type") == "json_invalid" else _field(e.get("loc", ())),
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    problem = ValidationFailed(f"{first['field']}: {first['message']}", field=first["field"])
    return problem_response(request, {**problem.to_problem(), "errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    problem = {
        "type": "about:blank",
        "title": str(exc.detail),
        "status": exc.status_code,
        "detail": str(exc.detail),
        "code": "http_error",
    }
    return problem_response(request, problem, dict(exc.headers or {}))


async def _database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    error = database_error(exc)
    if error is None:
        return await _unexpected(request, exc)
    # One line, no traceback: an outage repeats on every request until it ends.
    logger.error(
        "database error on %s %s: %s: %s",
        request.method, request.url.path, type(exc.orig).__name__, first_line(exc),
    )  # fmt: skip
    response = await _deshi_error(request, error)
    if isinstance(error, ServiceUnavailable):
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, DeshiError().to_problem())


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(DeshiError, _deshi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
