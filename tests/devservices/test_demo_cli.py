"""The demo as a user runs it (devservices/demo.py): a busy port fails before anything
starts and names a free one; startup shows a progress line per step, and the links of an
operator and a privacy officer; a terminal's Ctrl-C stops the applications first, then the
services, with no traceback and nothing left running."""

from __future__ import annotations

import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import cv2
import httpx
import pytest

from devservices import demo
from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from devservices.progress import step
from devservices.rtsp import gstreamer_problem
from gateway.auth import Scope, TokenVerifier

pytestmark = pytest.mark.timeout(300)

DEMO = [sys.executable, "-m", "devservices.demo"]
# A loaded CI machine: Triton's model loads dominate.
STARTUP_TIMEOUT_S = 240.0


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port with a listener on it (as another program's server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _suggested(fix: str) -> int:
    """The port a busy-port message tells the user to run with."""
    return int(fix.split("PORT=")[1].split("`")[0])


# --- before anything starts ------------------------------------------------------------------


def test_a_busy_port_fails_at_once_naming_a_free_one(busy_port: int, tmp_path: Path) -> None:
    began = time.monotonic()
    run = subprocess.run(
        [*DEMO, "--port", str(busy_port), "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    message = run.stderr.strip()
    assert message.startswith(f"port {busy_port} is in use: run `make demo PORT=")
    suggested = _suggested(message)
    assert suggested != busy_port
    assert demo.port_problem(suggested) is None
    # Nothing started: no progress line, and the workdir was never made.
    assert run.stdout == ""
    assert not (tmp_path / "demo").exists()
    assert time.monotonic() - began < 60  # the imports, and nothing else


def test_port_problem_tells_a_free_port_from_a_busy_one(busy_port: int) -> None:
    assert demo.port_problem(free_port()) is None
    problem = demo.port_problem(busy_port)
    assert problem is not None and f"port {busy_port} is in use" in problem


def test_the_suggestion_is_a_free_port_above_the_busy_one(busy_port: int) -> None:
    suggested = _suggested(demo._fix(busy_port, demo.HOST))
    assert busy_port < suggested <= busy_port + demo.PORT_SEARCH
    assert demo.port_problem(suggested) is None
    # For the default port, the README's example port when it is free.
    from_default = _suggested(demo._fix(demo.DEFAULT_PORT, demo.HOST))
    assert from_default == 8090 or demo.port_problem(8090) is not None


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_port_that_is_no_port_is_a_usage_error(port: str) -> None:
    run = subprocess.run(
        [*DEMO, "--port", port], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 2
    assert "argument --port" in run.stderr


def test_the_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "jwt-secret"
    first = demo.demo_secret(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert demo.demo_secret(path) == first
    path.write_text("short\n")
    renewed = demo.demo_secret(path)
    assert renewed != "short" and len(renewed) >= 32


def test_media_libraries_are_quieted_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", "32")  # the operator's own choice
    demo.quiet_media_libraries()
    assert os.environ["OPENCV_LOG_LEVEL"] == "ERROR"
    assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "32"
    assert cv2.getLogLevel() == 2  # ERROR: the per-open warning is gone


# --- progress lines --------------------------------------------------------------------------


def test_a_step_in_a_log_ends_with_ready_and_its_time() -> None:
    out = io.StringIO()
    with step("NATS JetStream", stream=out):
        pass
    line = out.getvalue()
    assert line.startswith("  NATS JetStream ... ready (") and line.endswith(" s)\n")


def test_a_failed_or_interrupted_step_says_so() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), step("gateway", stream=out):
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), step("Triton", stream=out):
        raise KeyboardInterrupt
    assert out.getvalue() == "  gateway ... failed\n  Triton ... interrupted\n"


def test_a_slow_step_shows_it_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devservices.progress.LOG_TICK_S", 0.05)
    out = io.StringIO()
    with step("Triton", stream=out):
        time.sleep(0.4)
    assert out.getvalue().startswith("  Triton ....")


# --- the whole demo ---------------------------------------------------------------------------


class Output:
    """A running process's stdout, read line by line on a thread."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                line = None
            if line is None:  # timed out, or the process ended
                raise AssertionError(f"no {text!r} in the output:\n{''.join(self.lines)}")
            self.lines.append(line)

    def rest(self, timeout_s: float) -> str:
        self._thread.join(timeout_s)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_stops_the_applications_then_the_services(tmp_path: Path) -> None:
    if (problem := gstreamer_problem()) is not None:
        pytest.fail(problem)
    port = free_port()
    workdir = tmp_path / "demo"
    # Its own session, as a terminal's foreground job: the Ctrl-C below goes to its whole
    # process group, which the services (sessions of their own) are not in.
    process = subprocess.Popen(
        [*DEMO, "--port", str(port), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = Output(process.stdout)
    try:
        output.wait_for("Ctrl-C stops everything.", STARTUP_TIMEOUT_S)
        started = "".join(output.lines)
        for progress in ("Triton", "NATS JetStream", "PostgreSQL", "gateway at", "store node"):
            assert f"  {progress}" in started
        assert "first frame of entrance-1 analysed ... done" in started
        links = {
            line.split(":", 1)[0]: line.split("#token=")[1].strip()
            for line in output.lines
            if "#token=" in line
        }
        verifier = TokenVerifier((workdir / "jwt-secret").read_text().strip())
        operator = verifier.verify(links["Dashboard, operator"])
        privacy = verifier.verify(links["Dashboard, privacy officer"])
        assert operator.has(Scope.OPERATOR) and not operator.has(Scope.PRIVACY_OFFICER)
        assert privacy.has(Scope.PRIVACY_OFFICER) and not privacy.has(Scope.OPERATOR)
        health = next(line for line in output.lines if "store node (health " in line)
        node_port = int(health.split("127.0.0.1:")[1].split("/")[0])
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code == 200
        assert _processes_naming(str(workdir / "nats")), "the demo's NATS runs"

        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(120) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = output.rest(10)
    assert "Traceback" not in text, text
    stops = [
        "stopping the store node",
        "stopping the identity service",
        "stopping the gateway",
        "stopping the analytics service",
        "stopping the sample camera",
        "stopping PostgreSQL",
        "stopping NATS",
        "stopping Triton",
    ]
    positions = [text.find(f"  {what}") for what in stops]
    assert -1 not in positions, text
    assert positions == sorted(positions), text  # the applications drain first
    for what in stops:
        [line] = [line for line in text.splitlines() if line.startswith(f"  {what}")]
        assert " ... stopped (" in line, text
    assert text.rstrip().endswith("stopped")
    assert _refuses(port) and _refuses(node_port)
    assert _processes_naming(str(workdir / "nats")) == []
