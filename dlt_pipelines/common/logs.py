"""Structured logs: one JSON object per line with an event name and safe fields.

FERPA: callers log counts, dates, school codes and run ids, never student data. As a
second line of defence every registered secret is masked wherever it appears.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

_SECRETS: set[str] = set()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask this value in every log line from now on (certificates, passwords, tokens)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}) or {})
        if record.exc_info and os.environ.get("SCHOOLDATA_DEBUG") == "1":
            payload["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test capture, redirection)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure(level: str | None = None) -> None:
    """Send project logs as JSON lines to stderr (stdout stays free for summaries)."""
    level = (level or os.environ.get("SCHOOLDATA_LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger("schooldata")
    root.setLevel(level)
    if not any(getattr(h, "_schooldata", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._schooldata = True  # type: ignore[attr-defined]
        root.addHandler(handler)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"schooldata.{name}")


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields) -> None:
    """Log a named event with structured fields: ``event(log, "sync_ok", rows=10)``."""
    logger.log(level, name, extra={"fields": fields})
