"""Real NATS fixtures for the tests (the embedded server in devservices/nats.py).

nats_server          a started server, stopped after the test
nats_url             its client URL
nats_server_factory  make (optionally unstarted) servers, all stopped after the test
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devservices.lifecycle import ServiceStartError
from devservices.nats import NatsServer, find_nats_server
from devservices.ports import free_port

__all__ = [
    "NatsServer",
    "NatsServerFactory",
    "ServiceStartError",
    "find_nats_server",
    "free_port",
    "nats_server",
    "nats_server_factory",
    "nats_url",
]


NatsServerFactory = Callable[..., NatsServer]


@pytest.fixture
def nats_server_factory(tmp_path: Path) -> Iterator[NatsServerFactory]:
    """`factory(start=True, port=None)` -> a server with its own store and log under
    tmp_path (pytest keeps the last few runs' tmp dirs, so the logs outlive the test)."""
    servers: list[NatsServer] = []

    def make(*, start: bool = True, port: int | None = None) -> NatsServer:
        name = f"nats-{len(servers)}"
        server = NatsServer(tmp_path / name, port=port, log_path=tmp_path / f"{name}.log")
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def nats_server(nats_server_factory: NatsServerFactory) -> NatsServer:
    return nats_server_factory()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url
