"""A sample RTSP camera: GStreamer's gst-rtsp-server serving a video file as a live,
looping H.264 stream over TCP on a loopback port (the demo's camera, and the tests').

The server runs gst_rtsp_serve.py (beside this file) under the SYSTEM interpreter
(/usr/bin/python3), because its bindings are Debian packages (python3-gi and the GStreamer
typelibs/plugins installed by scripts/install-system-packages.sh), not PyPI packages.

    with RtspServer(Path("vtest.avi")) as server:
        url = server.url              # rtsp://127.0.0.1:PORT/stream
        server.kill()                 # the camera dies (SIGKILL, connections reset)
        server.start()                # and comes back on the same port
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devservices.ports import free_port

__all__ = [
    "SERVE_SCRIPT",
    "SYSTEM_PYTHON",
    "RtspServer",
    "RtspServerError",
    "gstreamer_problem",
]

SYSTEM_PYTHON = os.environ.get("TRINETRA_SYSTEM_PYTHON", "/usr/bin/python3")
SERVE_SCRIPT = Path(__file__).with_name("gst_rtsp_serve.py")
INSTALL_HINT = "run scripts/install-system-packages.sh (make setup does)"

_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [name for name in ("decodebin", "videoconvert", "videorate", "intervideosink",
           "intervideosrc", "x264enc", "rtph264pay", "avdec_msmpeg4")
           if Gst.ElementFactory.find(name) is None]
print(" ".join(missing))
"""


class RtspServerError(RuntimeError):
    """GStreamer is missing, or the server did not start or stop in time."""


@functools.cache
def gstreamer_problem() -> str | None:
    """Why the RTSP server cannot run here, or None when it can (checked once)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found; {INSTALL_HINT}"
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if probe.returncode != 0:
        last = probe.stderr.strip().splitlines()[-1:] or ["unknown error"]
        return f"GStreamer RTSP bindings unavailable ({last[0]}); {INSTALL_HINT}"
    if probe.stdout.strip():
        return f"GStreamer elements missing: {probe.stdout.strip()}; {INSTALL_HINT}"
    return None


class RtspServer:
    """One gst-rtsp-server subprocess (module docs). Not started until `start()`."""

    def __init__(
        self,
        video: Path,
        *,
        port: int | None = None,
        path: str = "/stream",
        fps: int = 25,
        host: str = "127.0.0.1",
    ) -> None:
        # 25 fps like a typical IP camera; it also matters for the client: FFmpeg probes
        # ~20 frames before the first one is returned (~0.9 s at 25 fps, ~2.8 s at 10).
        self.video = video
        self.port = port if port is not None else free_port()
        self.path = path
        self.fps = fps
        self.host = host
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix=f"rtsp-{self.port}-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 20.0) -> RtspServer:
        """Start (or restart, on the same port) and wait until it accepts connections."""
        if self.running:
            return self
        problem = gstreamer_problem()
        if problem is not None:
            raise RtspServerError(problem)
        self._process = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(SERVE_SCRIPT),
                "--file",
                str(self.video),
                "--port",
                str(self.port),
                "--host",
                self.host,
                "--path",
                self.path,
                "--fps",
                str(self.fps),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a Ctrl-C of the test run does not race our stop().
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RtspServerError(
                    f"RTSP server exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if "READY" in Path(self._log.name).read_text(errors="replace") and self._accepts():
                return self
            time.sleep(0.05)
        self.kill()
        raise RtspServerError(f"RTSP server not ready in {timeout} s:\n{self.log_tail()}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _wait_port_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._accepts() and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """Die abruptly (SIGKILL): clients see their connections reset, like a crash."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        self._wait_port_closed()

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down cleanly (SIGTERM), falling back to SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        self._wait_port_closed()

    def restart(self, timeout: float = 20.0) -> RtspServer:
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
