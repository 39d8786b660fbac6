"""Real NATS fixtures for the tests (the embedded server in devservices/nats.py).

nats_server          a started server, stopped after the test
nats_url             its client URL
nats_server_factory  make (optionally unstarted) servers, all stopped after the test
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devservices.nats import NatsServer, NatsServerError, find_nats_server
from devservices.ports import free_port

__all__ = [
    "NatsServer",
    "NatsServerError",
    "NatsServerFactory",
    "find_nats_server",
    "free_port",
    "nats_server",
    "nats_server_factory",
    "nats_url",
]


NatsServerFactory = Callable[..., NatsServer]


@pytest.fixture
def nats_server_factory(tmp_path: Path) -> Iterator[NatsServerFactory]:
    """`factory(start=True, port=None)` -> a server with its own store under tmp_path."""
    servers: list[NatsServer] = []

    def make(*, start: bool = True, port: int | None = None) -> NatsServer:
        server = NatsServer(tmp_path / f"nats-{len(servers)}", port=port)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


@pytest.fixture
def nats_server(nats_server_factory: NatsServerFactory) -> NatsServer:
    return nats_server_factory()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url
