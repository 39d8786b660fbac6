"""The embedded inference tier: triton/cpu_server.py as a child process on loopback.

Used by the demo, the benchmarks and the tests; production points TritonSettings.url at
the GPU Triton service instead (docker-compose.yml). The launcher prints READY once every
model is loaded, or explains on stderr why not and exits; both land in this service's log
(devservices/lifecycle.py), the explanation in the ServiceStartError. The server's own
log is the launcher's, `<workdir>/tritonserver-<grpc port>.log`.

The profile (which configs/NAME.pbtxt every model loads) is the launcher's choice unless
`profile` names one: TRINETRA_TRITON_PROFILE, else `openvino` (triton/cpu_server.py).
The demo and the tests take that default; a benchmark comparing profiles names them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from devservices.lifecycle import ProcessService
from devservices.paths import CACHE_DIR, REPO_ROOT
from devservices.ports import free_port

__all__ = ["LAUNCHER", "LocalTriton"]

LAUNCHER = REPO_ROOT / "triton" / "cpu_server.py"


class LocalTriton(ProcessService):
    """The CPU Triton on free loopback ports (or the given ones); `workdir` holds the
    backends and the server log, and is kept (a cache shared by runs); `profile` picks
    the model configs (None: the launcher's default)."""

    name = "triton"
    # Past the launcher's own 120 s ready timeout, so its explanation is what we report.
    start_timeout_s = 180.0
    stop_timeout_s = 30.0
    ready_poll_s = 0.1

    def __init__(
        self,
        *,
        grpc_port: int | None = None,
        http_port: int | None = None,
        metrics_port: int | None = None,
        profile: str | None = None,
        extra_args: Sequence[str] = (),
        workdir: Path = CACHE_DIR / "triton",
        log_path: Path | None = None,
    ) -> None:
        self.grpc_port = grpc_port if grpc_port is not None else free_port()
        self.http_port = http_port if http_port is not None else free_port()
        self.metrics_port = metrics_port if metrics_port is not None else free_port()
        self.profile = profile
        self.extra_args = list(extra_args)
        self.workdir = workdir
        super().__init__(port=self.grpc_port, log_path=log_path)

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def _command(self) -> list[str]:
        return [
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
            *(["--model-config-name", self.profile] if self.profile else []),
            *self.extra_args,
        ]

    def _ready(self) -> bool:
        return any(line.startswith("READY") for line in self.log_text().splitlines())
