"""All configured streams into the database: one `StreamConsumer` each."""

from __future__ import annotations

import asyncio

from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.ingest.consumer import StreamConsumer
from gateway.ingest.writer import BatchWriter
from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection


class IngestService:
    def __init__(
        self,
        connection: NatsConnection,
        db: Database,
        settings: IngestSettings,
        metrics: GatewayMetrics,
    ) -> None:
        self.consumers = [
            StreamConsumer(connection, stream, BatchWriter(db, stream), settings, metrics)
            for stream in settings.streams
        ]

    def start(self) -> None:
        for consumer in self.consumers:
            consumer.start()

    async def stop(self, timeout_s: float = 5.0) -> None:
        await asyncio.gather(*(c.stop(timeout_s) for c in self.consumers))
