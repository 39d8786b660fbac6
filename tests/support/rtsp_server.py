"""Real RTSP camera fixtures for the tests (devservices/rtsp.py).

`rtsp_server_factory` (servers stopped after the test) and `rtsp_server` (one started
server playing vtest.avi).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devservices.lifecycle import ServiceStartError
from devservices.rtsp import RtspServer
from tests.support.media import media_path

__all__ = ["RtspServer", "ServiceStartError", "rtsp_server", "rtsp_server_factory"]


@pytest.fixture
def rtsp_server_factory(tmp_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Make RtspServers (started unless start=False), logging under tmp_path; all closed
    after the test."""
    servers: list[RtspServer] = []

    def make(
        video: Path | None = None, *, start: bool = True, fps: int = 25, port: int | None = None
    ) -> RtspServer:
        log = tmp_path / f"rtsp-{len(servers)}.log"
        server = RtspServer(video or media_path("vtest.avi"), fps=fps, port=port, log_path=log)
        servers.append(server)
        if start:
            try:
                server.start()
            except ServiceStartError as exc:
                pytest.fail(str(exc))
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def rtsp_server(rtsp_server_factory: Callable[..., RtspServer]) -> RtspServer:
    """A started RTSP server serving vtest.avi at 25 fps."""
    return rtsp_server_factory()
