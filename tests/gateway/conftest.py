"""Gateway test fixtures: real PostgreSQL (tests/support/postgres.py), real NATS and, for
process-frame, real Triton (both registered by the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.helpers import RunningGateway, running_gateway, settings, wait_schema
from tests.support.nats_server import NatsServer
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.streams import ALL_STREAMS


@pytest.fixture
async def publisher(nats_server: NatsServer) -> AsyncIterator[EventPublisher]:
    """The orchestrator's own publisher, creating every stream (identity ones too)."""
    connection = NatsConnection(nats_server.url, reconnect_time_wait_s=0.05)
    publisher = EventPublisher(
        connection, streams=ALL_STREAMS, ack_timeout_s=2.0, retry_backoff_s=(0.02, 0.2)
    )
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.close(timeout_s=2.0)
        await connection.close()


@pytest.fixture
async def gateway(
    database_url: str,
    nats_server: NatsServer,
) -> AsyncIterator[RunningGateway]:
    """The whole gateway (API, ingest, live feeds) on a loopback port."""
    async with running_gateway(settings(database_url, nats_server.url)) as running:
        await wait_schema(running.gateway)
        yield running
