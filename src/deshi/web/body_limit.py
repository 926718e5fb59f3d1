"""The request body's outer checks, before any route parses it: its size and its encoding.

A body larger than `max_body_bytes` is answered 413 without being read further: by its
Content-Length when it declares one, else as soon as the streamed bytes pass the limit. A JSON
body that is not UTF-8 (RFC 8259 allows nothing else) is answered 422 naming `body`; left to the
framework, it would be a bare 400. Both are problem+json from the one renderer.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deshi.errors import DeshiError, PayloadTooLarge, ValidationFailed
from deshi.web.errors import problem_response

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware: refuse oversized and non-UTF-8 JSON bodies before the app sees them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "content-length" not in headers and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body to check
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return
        body = await _read_at_most(receive, self.max_bytes)
        if body is None:
            await self._refuse(scope, receive, send, self._too_large())
            return
        if _is_json(headers) and not _is_utf8(body):
            problem = ValidationFailed("body: JSON must be encoded as UTF-8", field="body")
            await self._refuse(scope, receive, send, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is larger than {self.max_bytes:,} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: DeshiError) -> None:
        response = problem_response(Request(scope), exc.to_problem())
        await response(scope, receive, send)


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to check
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields the buffered body once, then the client's own messages
    (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _is_json(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
