"""Structured JSON logs: one object per line, with any `extra={...}` fields kept, so a
log shipper can index camera ids, states and errors without parsing prose.

Log calls keep the message constant and pass context as fields:

    log.warning("camera stream lost", extra={"camera_id": cid, "error": str(exc)})

Trace ids: a line about a frame or an event carries the ids of what it is about (store,
camera, frame sequence, track id, event id; `TRACE_FIELDS`), without every log call
spelling them out. The code that processes a frame or an event opens a `log_context`,
and every record logged inside it (in that task or thread, and in the asyncio tasks
started from it) gets those fields:

    with log_context(store_id="blr-01", camera_id="door"):
        ...
        with log_context(frame_seq=frame.seq):
            log.warning("inference failed", extra={"error": repr(error)})
            # -> {"msg": "inference failed", "store_id": "blr-01", "camera_id": "door",
            #     "frame_seq": 41, "error": ...}

A field the log call passes itself wins over the context's. Threads do not inherit
contextvars: code that hands work to a thread runs it in `contextvars.copy_context()`.

Every process entry point calls `configure_logging` once, before it logs anything; it
installs `LogContextFilter` on the handler.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

__all__ = [
    "TRACE_FIELDS",
    "JsonFormatter",
    "LogContextFilter",
    "TextFormatter",
    "configure_logging",
    "current_log_context",
    "extra_fields",
    "log_context",
    "trace_fields",
]

# LogRecord's own attributes; anything else on a record came from `extra=` (or a context).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# The ids that tie a log line to a frame or an event, named as in the event schema
# (trinetra/events/schema.py), so a line and the events it is about join on the same keys.
TRACE_FIELDS: Final = ("store_id", "camera_id", "frame_seq", "track_id", "event_id")

_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})
_context: ContextVar[Mapping[str, object]] = ContextVar("trinetra_log_context", default=_EMPTY)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every record logged inside the block (None values are left out,
    so a caller can pass an id it may not have). Blocks nest; an inner field replaces an
    outer one of the same name until the inner block ends."""
    added = {key: value for key, value in fields.items() if value is not None}
    token = _context.set(MappingProxyType({**_context.get(), **added}))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, object]:
    """The fields the open `log_context` blocks add here (e.g. to carry them along with
    work that another task will do later)."""
    return dict(_context.get())


def trace_fields(source: object) -> dict[str, object]:
    """The trace ids `source` carries (an event, an observation, a frame context): its
    attributes named like `TRACE_FIELDS` that are set, UUIDs as strings."""
    fields: dict[str, object] = {}
    for name in TRACE_FIELDS:
        value = getattr(source, name, None)
        if value is not None:
            fields[name] = str(value) if isinstance(value, uuid.UUID) else value
    return fields


class LogContextFilter(logging.Filter):
    """Puts the current `log_context` fields on each record the handler receives; a field
    the log call passed with `extra=` is kept as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        attributes = vars(record)
        for key, value in _context.get().items():
            attributes.setdefault(key, value)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log call passed with `extra=` (and its `log_context`, once filtered)."""
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
    (the demo's console), with the current `log_context` fields, replacing any handlers
    already installed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    # On the handler, not a logger: a logger's filters skip records its children propagate.
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
