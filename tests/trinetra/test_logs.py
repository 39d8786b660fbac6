"""Structured logs: the process entry points write JSON lines carrying the `extra=` fields
of each log call (trinetra.logs)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from devservices.paths import REPO_ROOT
from trinetra.logs import JsonFormatter, TextFormatter


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
