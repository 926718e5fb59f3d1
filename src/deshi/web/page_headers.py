"""The security headers every HTML page carries, the app's pages and the weekly report alike.

The pages load nothing but the server's own files (`default-src 'self'`), may not be framed, and
are not cached; inline styles are allowed because the report and the templates carry them, inline
scripts are not.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SECURITY_HEADERS", "page_headers"]

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The security headers plus a page's own (e.g. Content-Language), as response headers."""
    return {**SECURITY_HEADERS, **(extra or {})}
