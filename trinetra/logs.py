"""Structured JSON logs: one object per line, with any `extra={...}` fields kept, so a
log shipper can index camera ids, states and errors without parsing prose.

Log calls keep the message constant and pass context as fields:

    log.warning("camera stream lost", extra={"camera_id": cid, "error": str(exc)})

Every process entry point calls `configure_logging` once, before it logs anything.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "extra_fields"]

# LogRecord's own attributes; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log call passed with `extra=`."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            # An extra field named like one of ours must not replace it.
            entry[f"extra_{key}" if key in entry else key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One readable line for a console, the extra fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{key}={value!r}" for key, value in extra_fields(record).items())
        return f"{line} {fields}" if fields else line


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    """Send every logger's records to stderr, as JSON lines unless `as_json` is False
    (the demo's console), replacing any handlers already installed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
