"""``leanorm serve``'s logs: text for a terminal, or one JSON object a line (``--log-format json``) for a
log collector.

Three streams, all on standard output: the server's own errors (logger ``leanorm``: a database file
moved away, a disk refusing writes, a handler's bug with its traceback), the access log with
``--verbose`` (logger ``leanorm.access``: method, path without its query string, status, milliseconds,
client; never headers, keys or bodies), and granian's (``_granian``). A JSON record holds ``time`` (UTC,
ISO 8601), ``level``, ``logger``, ``message``, the access fields, and ``exception`` (the traceback) where
there is one.
"""
from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, Dict

__all__ = ["FORMATS", "JSONFormatter", "configure", "granian_config", "access"]

FORMATS = ("text", "json")
ACCESS = logging.getLogger("leanorm.access")
#: the fields an access record carries beyond its message
ACCESS_FIELDS = ("method", "path", "status", "ms", "client")
_TEXT = "[%(levelname)s] %(name)s: %(message)s"


class JSONFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        out: Dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _formatter(log_format: str) -> logging.Formatter:
    return JSONFormatter() if log_format == "json" else logging.Formatter(_TEXT)


def configure(log_format: str, verbose: bool) -> None:
    """Send the ``leanorm`` loggers to standard output in ``log_format``; the access log only when
    ``verbose``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_formatter(log_format))
    root = logging.getLogger("leanorm")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    ACCESS.setLevel(logging.INFO if verbose else logging.WARNING)


def granian_config(log_format: str) -> Dict[str, Any]:
    """granian's logging configuration (its ``log_dictconfig``) in ``log_format``."""
    formatter = {"()": f"{__name__}.JSONFormatter"} if log_format == "json" else \
        {"()": "logging.Formatter", "fmt": "[%(levelname)s] %(message)s"}
    return {
        "formatters": {"generic": formatter},
        "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler",
                                 "stream": "ext://sys.stdout"}},
        "loggers": {"_granian": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }


def access(method: str, path: str, status: int, seconds: float, client: str) -> None:
    """Log one answered request (when the access log is on)."""
    if ACCESS.isEnabledFor(logging.INFO):
        ms = round(seconds * 1000, 3)
        ACCESS.info('%s "%s %s" %d %.1fms', client, method, path, status, ms,
                    extra={"method": method, "path": path, "status": status, "ms": ms, "client": client})
