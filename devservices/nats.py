"""The embedded NATS: a real `nats-server` with JetStream as a child process on loopback,
restartable on the same port with the same store directory (the file store survives).

Used by the demo, the benchmarks and the tests; production runs the NATS service in
docker-compose.yml and points TRINETRA_NATS_URL at it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from devservices.ports import free_port

__all__ = ["NatsServer", "NatsServerError", "find_nats_server"]


class NatsServerError(RuntimeError):
    """The server binary is missing, or it did not start or stop in time."""


def find_nats_server() -> str:
    """The venv's `nats-server` (next to this interpreter) first, then PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the 'services' extra")
    return found


class NatsServer:
    """One nats-server process with JetStream on loopback.

    The client and monitoring ports are chosen once and kept across restarts, so clients
    reconnect to the same URL; readiness is JetStream's own `/healthz`, which turns OK
    only after the file store has been recovered.
    """

    def __init__(
        self, store_dir: Path, *, port: int | None = None, binary: str | None = None
    ) -> None:
        self.store_dir = store_dir
        self.port = port if port is not None else free_port()
        self.monitor_port = free_port()
        self.binary = binary or find_nats_server()
        self.log_path = store_dir.parent / f"{store_dir.name}-nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            raise NatsServerError("nats-server is already running")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http_port",
            str(self.monitor_port),
            "--server_name",
            "trinetra-test",
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float) -> None:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=false"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise NatsServerError(f"nats-server exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise NatsServerError(f"nats-server not ready after {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM): JetStream flushes its store before exiting."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL), like a crashed or OOM-killed server."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        self._process = None

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout)

    def __enter__(self) -> NatsServer:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
