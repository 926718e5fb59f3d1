"""Request ids and the access log: every request gets an `X-Request-ID`, echoed in its response.

A caller (or a proxy in front of deshi) may send its own `X-Request-ID`; it is kept when it looks
like an id (letters, digits, `.`, `_`, `:`, `-`, at most 128 characters) and replaced by a new
random one otherwise, so a log line can never be forged through it. While the request runs the
id is in `deshi.logs.REQUEST_ID`, a context variable that `deshi.logs.RequestIdFilter` copies
into every log record of the `deshi` logger, so the lines a request causes can be found together.

The middleware writes one access line per request to the `deshi.http` logger (method, path,
route template, status, milliseconds) and hands the same facts to an optional observer (the
Prometheus metrics). Nothing here configures logging: `deshi serve` and `deshi worker` do
(`deshi.logs`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deshi.logs import REQUEST_ID

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "RequestObserver", "route_template"]

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "unmatched"  # one label for every path no route took (404s), never the raw path

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")

access_log = logging.getLogger("deshi.http")

RequestObserver = Callable[[str, str, int, float], None]  # method, route template, status, seconds


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request (`/items/{item_id}`), so metrics
    and logs group by endpoint, not by id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    if route is None and "endpoint" in scope and scope.get("root_path"):  # a mount (/static)
        return f"{scope['root_path']}/{{path}}"
    return UNMATCHED_ROUTE


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            candidate = value.decode("latin-1")
            return candidate if _VALID_ID.fullmatch(candidate) else None
    return None


class RequestContextMiddleware:
    """ASGI middleware: request id in, request id out, one access line, one observation."""

    def __init__(self, app: ASGIApp, *, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", ()), (_HEADER_KEY, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._finish(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        route = route_template(scope)
        access_log.info(
            "%s %s %s %.1fms",
            method,
            scope.get("path", ""),
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": scope.get("path", ""),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
        if self.observe is not None:
            self.observe(method, route, status, seconds)
