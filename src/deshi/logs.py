"""Logging for the long-running commands (`deshi serve`, `deshi worker`), configured here only.

Library code only asks for loggers under the one name `deshi` (`deshi.jobs`, `deshi.http`, …)
and never configures them; the commands call `configure_logging` once at start, and so do the
child processes they start (a KPI recomputation, an isolated retrain), which a spawn leaves
unconfigured, so their lines come in the same format. Records go to stderr, as text or as one
JSON object per line (`DESHI_LOG_FORMAT`), each with the request id of the HTTP request it
belongs to (`REQUEST_ID`, set by `deshi.web.request_context`). uvicorn's own loggers are routed
through the same handler, so a log collector sees one format.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from deshi.settings import LogFormat, LogLevel

__all__ = ["REQUEST_ID", "JsonFormatter", "RequestIdFilter", "TextFormatter", "configure_logging"]

REQUEST_ID: ContextVar[str | None] = ContextVar("deshi_request_id", default=None)

_LOGGERS = ("deshi", "uvicorn")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_tag",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request) to each record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the record's
    `extra` fields, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line per record: time, level, logger, [request id or -], message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_tag)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_tag = getattr(record, "request_id", None) or "-"
        return super().format(record)


class _DeshiHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs, recognised when it is called again. Without a
    stream of its own it writes to whatever `sys.stderr` is at the time of each record (a test
    runner may swap it and close the old one)."""

    _fixed: TextIO | None = None

    @property
    def stream(self) -> TextIO:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._fixed = value


def configure_logging(
    *, log_format: LogFormat, level: LogLevel, stream: TextIO | None = None
) -> logging.Handler:
    """Send the `deshi` and uvicorn loggers to one handler in `log_format` on `stream` (default:
    stderr); returns the handler. Calling it again replaces the handler it installed before."""
    handler = _DeshiHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())  # on the handler: it sees the records of child loggers
    for name in _LOGGERS:  # uvicorn.error and uvicorn.access propagate to "uvicorn"
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _DeshiHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)  # the root logger has no handler in serve/worker: no doubles
        logger.setLevel(level)
    return handler
