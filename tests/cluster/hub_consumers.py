"""The hub's consumers as the tests run them: gateway ingest replicas (each its own NATS
connection and database pool, sharing the durable consumers) and database reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg

from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from tests.support.metrics import read_metric
from trinetra.events.connection import NatsConnection


@asynccontextmanager
async def ingest_replicas(
    urls: Sequence[str], dsn: str, streams: tuple[str, ...], *, replicas: int, durable: str
) -> AsyncIterator[list[GatewayMetrics]]:
    """`replicas` ingest services on the same durable consumers; replica i connects to
    the hub nodes starting at node i, so they are spread over the cluster."""
    async with AsyncExitStack() as stack:
        replica_metrics = []
        for index in range(replicas):
            metrics = GatewayMetrics()
            order = [*urls[index % len(urls) :], *urls[: index % len(urls)]]
            connection = NatsConnection(order, reconnect_time_wait_s=0.1)
            db = Database(dsn, max_size=4, statement_timeout_s=10)
            await connection.start()
            stack.push_async_callback(connection.close)
            await db.start()
            stack.push_async_callback(db.close)
            settings = IngestSettings(
                streams=streams,
                durable_prefix=durable,
                batch_size=50,
                ack_wait_s=3.0,
                batch_window_s=0.01,
                retry_backoff_s=(0.05, 0.5),
            )
            service = IngestService(connection, db, settings, metrics)
            service.start()
            stack.push_async_callback(service.stop, 2.0)
            replica_metrics.append(metrics)
        yield replica_metrics


def stored(metrics: GatewayMetrics, stream: str) -> float:
    return read_metric(metrics.registry, "trinetra_gateway_ingest_stored_total", {"stream": stream})


def redelivered(metrics: GatewayMetrics, stream: str) -> float:
    return read_metric(
        metrics.registry, "trinetra_gateway_ingest_duplicates_total", {"stream": stream}
    )


async def fetch_ids(dsn: str, table: str, store_id: str) -> list[str]:
    """Every stored event id of a store in `table` (duplicates kept, if there were any)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT event_id FROM {table} WHERE store_id = $1", store_id)
    finally:
        await conn.close()
    return [str(row["event_id"]) for row in rows]
