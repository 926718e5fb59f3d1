"""Signing webhook bodies: `X-Deshi-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

The body carries the same `timestamp` as the `X-Deshi-Timestamp` header, so the signature covers
it: a receiver verifies the HMAC over the raw bytes, then rejects stale timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Deshi-Signature"
TIMESTAMP_HEADER = "X-Deshi-Timestamp"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the valid signature of `body` (constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)
