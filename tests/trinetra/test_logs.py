"""Structured logs: the process entry points write JSON lines carrying the `extra=` fields
of each log call, and the trace ids of the `log_context` it is made in (trinetra.logs)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devservices.paths import REPO_ROOT
from trinetra.events.schema import BoundingBox, TrackStartedEvent, make_track_uid
from trinetra.logs import (
    TRACE_FIELDS,
    JsonFormatter,
    LogContextFilter,
    TextFormatter,
    current_log_context,
    extra_fields,
    log_context,
    trace_fields,
)


def _json_lines(stderr: str) -> list[dict[str, object]]:
    """Every stderr line that is a JSON object (a process may also print plain lines)."""
    entries = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            assert isinstance(entry, dict)
            entries.append(entry)
    return entries


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_store_node_logs_a_config_error_as_json_with_its_fields(tmp_path: Path) -> None:
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(
        "cameras:\n  - {id: door, name: Door, role: entrance, source: x.mp4, target_fsp: 5}\n"
    )
    done = _run("-m", "orchestrator", "--cameras", str(cameras))
    assert done.returncode == 2, done.stderr
    [entry] = [e for e in _json_lines(done.stderr) if e["logger"] == "orchestrator"]
    assert entry["level"] == "error"
    assert entry["msg"] == "invalid camera configuration"  # constant: context is in fields
    assert "target_fsp" in str(entry["error"])
    assert "ts" in entry


def test_the_migrate_command_logs_an_unreachable_database_as_json() -> None:
    done = _run("-m", "gateway.migrate", "--database-url", "postgresql://x@127.0.0.1:1/x")
    assert done.returncode == 2, done.stderr
    [entry] = [e for e in _json_lines(done.stderr) if e["logger"] == "gateway.migrate"]
    assert entry["msg"] == "cannot connect to the database"
    assert entry["level"] == "error"
    assert str(entry["error"])  # the reason travels as a field


def _record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("tests.logs")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, "camera stream lost", (), None, extra=extra
    )


def test_json_lines_keep_extra_fields_without_replacing_their_own() -> None:
    entry = json.loads(
        JsonFormatter().format(_record(camera_id="door", attempt=3, level="not ours"))
    )
    assert entry["msg"] == "camera stream lost"
    assert (entry["camera_id"], entry["attempt"]) == ("door", 3)
    assert (entry["level"], entry["extra_level"]) == ("warning", "not ours")


def test_console_lines_append_the_extra_fields() -> None:
    line = TextFormatter().format(_record(camera_id="door"))
    assert line.endswith("camera stream lost camera_id='door'")


# --- trace ids: log_context ---------------------------------------------------------------


class _Records(logging.Handler):
    """Collects records through the filter configure_logging installs on its handler."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(LogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("tests.logs.context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in extra_fields(record).items() if k in TRACE_FIELDS}


def test_a_log_context_names_every_record_inside_it_and_nests(records: _Records) -> None:
    log = logging.getLogger("tests.logs.context")
    with log_context(store_id="blr-01", camera_id="door"):
        log.info("camera line")
        with log_context(frame_seq=41, track_id=None):  # None: an id this code lacks
            log.info("frame line")
            with log_context(camera_id="aisle"):
                log.info("inner line")
        log.info("after the frame")
    log.info("outside")
    assert [_fields(r) for r in records.records] == [
        {"store_id": "blr-01", "camera_id": "door"},
        {"store_id": "blr-01", "camera_id": "door", "frame_seq": 41},
        {"store_id": "blr-01", "camera_id": "aisle", "frame_seq": 41},
        {"store_id": "blr-01", "camera_id": "door"},
        {},
    ]


def test_a_field_the_log_call_passes_wins_over_the_context(records: _Records) -> None:
    with log_context(camera_id="door", frame_seq=1):
        logging.getLogger("tests.logs.context").info("m", extra={"camera_id": "explicit"})
    assert _fields(records.records[0]) == {"camera_id": "explicit", "frame_seq": 1}


async def test_tasks_inherit_the_context_threads_only_when_given_it(records: _Records) -> None:
    log = logging.getLogger("tests.logs.context")
    with log_context(camera_id="door"):
        inherited = asyncio.create_task(_log_later(log, "task line"))
        plain = threading.Thread(target=log.info, args=("bare thread line",))
        carried = threading.Thread(
            target=contextvars.copy_context().run, args=(log.info, "carried thread line")
        )
    await inherited  # runs after the block ended: the context went with the task
    for thread in (plain, carried):
        thread.start()
        thread.join()
    assert {r.getMessage(): _fields(r) for r in records.records} == {
        "task line": {"camera_id": "door"},
        "bare thread line": {},
        "carried thread line": {"camera_id": "door"},
    }


async def _log_later(log: logging.Logger, message: str) -> None:
    await asyncio.sleep(0.01)
    log.info(message)


def test_trace_fields_are_the_ids_an_event_carries() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = TrackStartedEvent(
        camera_id="door",
        store_id="blr-01",
        occurred_at=at,
        track_id=7,
        track_uid=make_track_uid("blr-01", "door", 7, at),
        frame_seq=41,
        box=BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6),
        score=0.9,
    )
    assert trace_fields(event) == {
        "store_id": "blr-01",
        "camera_id": "door",
        "frame_seq": 41,
        "track_id": 7,
        "event_id": str(event.event_id),  # a string, as JSON and log shippers keep it
    }
    assert trace_fields(object()) == {}
    assert current_log_context() == {}
    with log_context(store_id="blr-01"):
        assert current_log_context() == {"store_id": "blr-01"}


def test_configure_logging_puts_the_context_on_every_json_line() -> None:
    code = (
        "import logging\n"
        "from trinetra.logs import configure_logging, log_context\n"
        "configure_logging()\n"
        "with log_context(store_id='blr-01', camera_id='door', frame_seq=3):\n"
        "    logging.getLogger('orchestrator.node').warning('inference failed')\n"
    )
    done = _run("-c", code)
    assert done.returncode == 0, done.stderr
    [entry] = _json_lines(done.stderr)
    assert entry["msg"] == "inference failed"
    assert (entry["store_id"], entry["camera_id"], entry["frame_seq"]) == ("blr-01", "door", 3)
