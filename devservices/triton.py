"""The embedded inference tier: triton/cpu_server.py as a child process on loopback.

Used by the demo, the benchmarks and the tests; production points TritonSettings.url at
the GPU Triton service instead (docker-compose.yml).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devservices.paths import REPO_ROOT
from devservices.ports import free_port

LAUNCHER = REPO_ROOT / "triton" / "cpu_server.py"


@dataclass
class LocalTriton:
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    workdir: Path = REPO_ROOT / ".cache" / "triton"
    process: subprocess.Popen[str] | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> None:
        """Start and block until every model is loaded; RuntimeError with the launcher's
        explanation if it is not."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(LAUNCHER),
                "--grpc-port",
                str(self.grpc_port),
                "--http-port",
                str(self.http_port),
                "--metrics-port",
                str(self.metrics_port),
                "--workdir",
                str(self.workdir),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so stop() reaches the server too
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline()  # "READY ..." or EOF when it gave up
        if not line.startswith("READY"):
            error = self.process.stderr.read()
            self.process.wait()
            self.process = None
            raise RuntimeError(f"Triton failed to start: {line}{error}".strip())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> LocalTriton:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
