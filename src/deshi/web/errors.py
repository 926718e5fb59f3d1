"""The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.

DeshiError subclasses carry their own status; request validation errors (bad JSON, wrong
types, unknown or missing fields) become 422 naming the first offending `field` and listing
all of them under `errors`; unknown routes and methods keep their 404/405; anything else is a
500 without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from deshi.errors import AuthenticationFailed, DeshiError, ValidationFailed

__all__ = ["PROBLEM_JSON", "ServiceUnavailable", "install_error_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("deshi.web")


class ServiceUnavailable(DeshiError):  # noqa: N818 -- reads as the HTTP outcome, like NotFound
    """A dependency of the app (the database) does not answer."""

    status_code = 503
    code = "unavailable"
    title = "Service unavailable"


def problem_response(
    request: Request, problem: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem+json response for `problem`, with the request path as `instance`."""
    body = {**problem, "instance": request.url.path}
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _field(loc: Sequence[int | str]) -> str:
    """('body', 'items', 3, 'text') → 'items[3].text'; the request part is dropped."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


async def _deshi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeshiError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
    return problem_response(request, exc.to_problem(), headers)


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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, DeshiError().to_problem())


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(DeshiError, _deshi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
