# ruff: noqa: N818  -- names read as HTTP outcomes (NotFound, Conflict), like datasette's
"""The one exception tree of deshi; `deshi.web.errors` renders it over HTTP in exactly one place.

Every error carries the HTTP status it should be rendered with (`status_code`), a stable
machine-readable `code`, and a human-readable `detail`::

    DeshiError               500 internal_error     base class; not raised bare by services
    ├── NotFound             404 not_found          no such object, or not visible to the caller
    │                                               (other departments' objects are "not found")
    ├── AuthenticationFailed 401 unauthenticated    bad password, unknown or revoked API token
    │   └── LoginRequired    401 unauthenticated    a UI request without a signed-in session
    │                                               (a page answers with the sign-in page)
    ├── PermissionDenied     403 forbidden          caller sees the object but may not do this
    ├── Conflict             409 conflict           duplicate, stale state, already initialised
    ├── PayloadTooLarge      413 payload_too_large  a request body over `max_body_bytes`
    ├── ValidationFailed     422 validation_failed  bad input; `field` names the culprit
    ├── TooManyAttempts      429 too_many_attempts  password sign-ins delayed after failures;
    │                                               `retry_after` seconds (Retry-After header)
    ├── IntegrityError       500 integrity_error    stored data breaks its invariants (audit chain)
    ├── ServiceUnavailable   503 unavailable        a dependency of the app (the database) is down
    └── StorageFull          507 storage_full       the database's disk is full; nothing was stored

Services raise these; routes and CLI commands never build HTTP responses or exit codes themselves
from other exception types.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "DeshiError",
    "IntegrityError",
    "LoginRequired",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ServiceUnavailable",
    "StorageFull",
    "TooManyAttempts",
    "ValidationFailed",
]


class DeshiError(Exception):
    """Base of every error deshi raises on purpose; knows its HTTP status and stable code."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)

    def to_problem(self) -> dict[str, Any]:
        """Render as an RFC 9457 problem+json body (without `instance`)."""
        return {
            "type": f"urn:deshi:error:{self.code}",
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
            "code": self.code,
        }


class NotFound(DeshiError):
    """The object does not exist, or it belongs to a department the caller cannot see."""

    status_code = 404
    code = "not_found"
    title = "Not found"


class AuthenticationFailed(DeshiError):
    """The caller could not be identified: wrong password, unknown or revoked credentials."""

    status_code = 401
    code = "unauthenticated"
    title = "Authentication failed"


class LoginRequired(AuthenticationFailed):
    """A UI request needs a signed-in user and has none (or the session's user is gone)."""

    def __init__(self, detail: str = "sign in again") -> None:
        super().__init__(detail)


class PermissionDenied(DeshiError):
    """The caller can see the object but their roles do not allow this action."""

    status_code = 403
    code = "forbidden"
    title = "Permission denied"


class Conflict(DeshiError):
    """The request conflicts with the current state (duplicate key, already done, stale lease)."""

    status_code = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(DeshiError):
    """The request body is larger than the server accepts; it was not read."""

    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class ValidationFailed(DeshiError):
    """The input is invalid; `field` names the offending input when there is one."""

    status_code = 422
    code = "validation_failed"
    title = "Validation failed"

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(detail)

    def to_problem(self) -> dict[str, Any]:
        """Render as problem+json, adding the offending `field`."""
        return {**super().to_problem(), "field": self.field}


class TooManyAttempts(DeshiError):
    """Too many failed password sign-ins for this account or from this address: wait
    `retry_after` seconds (answered with a Retry-After header)."""

    status_code = 429
    code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins: try again in {retry_after} seconds")

    def to_problem(self) -> dict[str, Any]:
        """Render as problem+json, adding `retry_after` (seconds)."""
        return {**super().to_problem(), "retry_after": self.retry_after}


class IntegrityError(DeshiError):
    """Stored data is inconsistent with its own invariants (e.g. a broken audit chain)."""

    status_code = 500
    code = "integrity_error"
    title = "Data integrity error"


class ServiceUnavailable(DeshiError):
    """A dependency of the app (the database) does not answer."""

    status_code = 503
    code = "unavailable"
    title = "Service unavailable"


class StorageFull(DeshiError):
    """The database could not grow (disk or quota full); the request's writes were rolled back."""

    status_code = 507
    code = "storage_full"
    title = "Insufficient storage"
