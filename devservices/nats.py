"""The embedded NATS: a real `nats-server` with JetStream as a child process on loopback,
restartable on the same port with the same store directory (the file store survives).

Used by the demo, the benchmarks and the tests; production runs the NATS service in
docker-compose.yml and points TRINETRA_NATS_URL at it. The lifecycle (idempotent start,
log file, ServiceStartError) is devservices/lifecycle.py's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from devservices.lifecycle import ProcessService, ServiceStartError
from devservices.ports import free_port

__all__ = ["NatsServer", "find_nats_server"]


def find_nats_server() -> str:
    """The venv's `nats-server` (next to this interpreter) first, then PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise ServiceStartError("nats", "nats-server not found: install the 'services' extra")
    return found


class NatsServer(ProcessService):
    """One nats-server process with JetStream on loopback.

    The client and monitoring ports are chosen once and kept across restarts, so clients
    reconnect to the same URL; readiness is JetStream's own `/healthz`, which turns OK
    only after the file store has been recovered. Without a `store_dir` the store is a
    temp dir that `close()` removes; a given one is the caller's and is kept.
    """

    name = "nats"
    # Where `_ready` finds the monitoring port (a leaf in a network namespace: its address).
    monitor_host = "127.0.0.1"
    start_timeout_s = 10.0
    stop_timeout_s = 10.0  # SIGTERM: JetStream flushes its store before exiting

    def __init__(
        self,
        store_dir: Path | None = None,
        *,
        port: int | None = None,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.monitor_port = free_port()
        self.binary = binary or find_nats_server()
        self.extra_args = list(extra_args)
        super().__init__(port=self.port, log_path=log_path)
        if store_dir is None:
            store_dir = self._own(Path(tempfile.mkdtemp(prefix=f"trinetra-nats-{self.port}-")))
        self.store_dir = store_dir

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)

    def _command(self) -> list[str]:
        return [
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
            *self.extra_args,
        ]

    def _ready(self) -> bool:
        url = f"http://{self.monitor_host}:{self.monitor_port}/healthz?js-enabled-only=false"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
