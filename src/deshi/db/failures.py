"""What a failure of the database driver means to the person or program that asked: the web
answers it as a problem (503/507), the CLI as one line."""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import DBAPIError, OperationalError

from deshi.errors import DeshiError, ServiceUnavailable, StorageFull

__all__ = ["database_error", "first_line"]

SQLITE_FULL: Final = 13  # sqlite3.SQLITE_FULL: "database or disk is full"
POSTGRES_DISK_FULL: Final = "53100"  # SQLSTATE disk_full


def database_error(exc: DBAPIError) -> DeshiError | None:
    """StorageFull when the disk is full, ServiceUnavailable when the database is unreachable,
    restarting or locked (the request may be sent again), None when it is a bug."""
    driver_error = exc.orig
    if (
        getattr(driver_error, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(driver_error, "sqlstate", None) == POSTGRES_DISK_FULL
    ):
        return StorageFull(
            "the database has no space left, so nothing from this request was stored; "
            "free disk space, then send it again"
        )
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return ServiceUnavailable("the database is not available right now; try again shortly")
    return None


def first_line(exc: DBAPIError) -> str:
    """The driver's message, first line only (no SQL, no parameters)."""
    message = str(exc.orig).strip()
    return message.splitlines()[0] if message else type(exc.orig).__name__
