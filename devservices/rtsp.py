"""A sample RTSP camera: GStreamer's gst-rtsp-server serving a video file as a live,
looping H.264 stream over TCP on a loopback port (the demo's camera, and the tests').

The server runs gst_rtsp_serve.py (beside this file) under the SYSTEM interpreter
(/usr/bin/python3), because its bindings are Debian packages (python3-gi and the GStreamer
typelibs/plugins installed by scripts/install-system-packages.sh), not PyPI packages.

    with RtspServer(Path("vtest.avi")) as server:
        url = server.url              # rtsp://127.0.0.1:PORT/stream
        server.kill()                 # the camera dies (SIGKILL, connections reset)
        server.start()                # and comes back on the same port

The lifecycle (idempotent start, log file, ServiceStartError) is devservices/lifecycle.py's.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from pathlib import Path

from devservices.lifecycle import ProcessService, ServiceStartError, poll_until
from devservices.ports import free_port

__all__ = ["SERVE_SCRIPT", "SYSTEM_PYTHON", "RtspServer", "gstreamer_problem"]

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


class RtspServer(ProcessService):
    """One gst-rtsp-server subprocess (module docs). Not started until `start()`.

    `stop()` and `kill()` return once the port refuses connections, so a client that
    reconnects afterwards really finds the camera gone.
    """

    name = "rtsp"
    start_timeout_s = 20.0
    stop_timeout_s = 5.0
    ready_poll_s = 0.05

    def __init__(
        self,
        video: Path,
        *,
        port: int | None = None,
        path: str = "/stream",
        fps: int = 25,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        # 25 fps like a typical IP camera; it also matters for the client: FFmpeg probes
        # ~20 frames before the first one is returned (~0.9 s at 25 fps, ~2.8 s at 10).
        self.video = video
        self.port = port if port is not None else free_port()
        self.path = path
        self.fps = fps
        self.host = host
        super().__init__(port=self.port, log_path=log_path)

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{self.path}"

    def _prepare(self) -> None:
        problem = gstreamer_problem()
        if problem is not None:
            raise ServiceStartError(self.name, problem)

    def _command(self) -> list[str]:
        return [
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
        ]

    def _ready(self) -> bool:
        return "READY" in self.log_text() and self._accepts()

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _after_exit(self) -> None:
        poll_until(lambda: not self._accepts(), timeout_s=5.0, interval_s=0.05)
