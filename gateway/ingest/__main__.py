"""Ingest only: `python -m gateway.ingest` consumes the streams into the database, with
no API. Same settings as `python -m gateway` (TRINETRA_*); /metrics on TRINETRA_PORT.

Every process on the same durable consumers (TRINETRA_INGEST__DURABLE_PREFIX) shares the
work, so ingest scales past one core by running more of these next to the gateway (or
more gateways): the server hands each pull request different messages, and the writer's
idempotence makes overlaps after a crash harmless.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from prometheus_client import start_http_server
from pydantic import ValidationError

from gateway.config import GatewaySettings
from gateway.db.database import Database
from gateway.db.migrations import migrate
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection
from trinetra.logs import configure_logging

log = logging.getLogger("gateway.ingest")


async def run(settings: GatewaySettings) -> None:
    metrics = GatewayMetrics()
    if settings.port:
        start_http_server(settings.port, settings.host, registry=metrics.registry)
    connection = NatsConnection(settings.nats_servers, name="trinetra-gateway-ingest")
    db = Database(
        settings.database_url.get_secret_value(),
        max_size=4,
        statement_timeout_s=settings.db_statement_timeout_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await connection.start()
    await db.start()
    service = IngestService(connection, db, settings.ingest, metrics)
    try:
        await db.wait_available()
        if settings.migrate_on_start:
            async with db.connection() as conn:
                await migrate(conn)
        service.start()
        log.info("ingesting", extra={"streams": list(settings.ingest.streams)})
        await stop.wait()
    finally:
        await service.stop()
        await db.close()
        await connection.close()


def main() -> int:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        print(f"invalid gateway settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
