"""The gateway's long-lived parts and their lifecycle.

`Gateway.start()` never waits for a dependency: the pool, the NATS connection, the live
hub and the Triton client start at once; a background task waits for the database,
applies migrations (when configured), learns the dialect and only then starts ingest and
maintenance. Until then /ready says what is missing and database-backed requests fail
with a clear "unavailable" error, so a gateway started before its database recovers by
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.api.shared import SharedSubscriptions
from gateway.auth import TokenVerifier
from gateway.config import GatewaySettings
from gateway.db import dialect as dialects
from gateway.db.database import Database
from gateway.db.dialect import Dialect
from gateway.db.maintenance import Maintenance
from gateway.db.migrations import migrate
from gateway.feeds.camera_registry import CameraRegistryPublisher
from gateway.feeds.hub import LiveHub
from gateway.health_probes import HealthMonitor
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from gateway.push.mode import PushMode
from trinetra.events.connection import NatsConnection
from trinetra.identity.client import IdentityServiceClient
from trinetra.inference import VisionClient
from trinetra.retry import Backoff

log = logging.getLogger(__name__)

# Waits between database bring-up attempts: bound of the first, cap of any (seconds).
_BRING_UP_BACKOFF_S = (0.5, 10.0)


@dataclass
class Gateway:
    settings: GatewaySettings
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    def __post_init__(self) -> None:
        s = self.settings
        self.verifier = TokenVerifier(
            s.jwt_secret.get_secret_value(),
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            leeway_s=s.jwt_leeway_s,
        )
        self.db = Database(
            s.database_url.get_secret_value(),
            max_size=s.db_pool_size,
            statement_timeout_s=s.db_statement_timeout_s,
        )
        self.nats = NatsConnection(s.nats_servers, name="trinetra-gateway")
        self.hub = LiveHub(self.nats, self.metrics, s.live.subscriber_queue)
        self.shared = SharedSubscriptions(self.metrics, s.live.subscriber_queue)
        self.identity = IdentityServiceClient(
            self.nats, store_id=s.store_id, timeout_s=s.identity_timeout_s
        )
        self.schema_ready = asyncio.Event()
        # Registered cameras into NATS KV, where store nodes watch them (gateway/feeds/).
        self.camera_registry = CameraRegistryPublisher(self.nats, self.db, self.schema_ready)
        self.vision: VisionClient | None = None
        # process-frame: dedup, the priority queue, async jobs and their worker (push/).
        self.push = PushMode(s, self.metrics, self.nats, lambda: self.vision)
        # The rest of the system's health, probed in the background (/health, systemHealth).
        self.health = HealthMonitor(s, self.metrics, self.nats, self.identity, lambda: self.vision)
        # Set by the server that runs the app (gateway/serve.py): aborts a client's TCP
        # connection when a close frame cannot get through (a stalled subscriber).
        self.abort_connection: Callable[[tuple[str, int]], bool] | None = None
        self.ingest: IngestService | None = None
        self.maintenance: Maintenance | None = None
        self.dialect: Dialect | None = None
        self._bring_up: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.db.start()
        await self.nats.start()
        await self.hub.start()
        self.vision = VisionClient(self.settings.triton)
        self.push.start()
        self.camera_registry.start()
        self.health.start()
        self._bring_up = asyncio.create_task(self._bring_up_database(), name="database-up")

    async def _bring_up_database(self) -> None:
        backoff = Backoff(*_BRING_UP_BACKOFF_S)
        while True:
            await self.db.wait_available()
            try:
                async with self.db.connection() as conn:
                    if self.settings.migrate_on_start:
                        report = await migrate(conn)
                        if report.applied:
                            log.info("migrations applied", extra={"applied": report.applied})
                    dialect = await dialects.recorded(conn)
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "database setup failed; retrying",
                    extra={"error": repr(exc), "retry_in_s": round(delay, 3)},
                )
                await asyncio.sleep(delay)
                continue
            if dialect is None:
                delay = backoff.next_delay()
                log.warning(
                    "schema not migrated yet (run python -m gateway.migrate)",
                    extra={"retry_in_s": round(delay, 3)},
                )
                await asyncio.sleep(delay)
                continue
            break
        self.dialect = dialect
        self.schema_ready.set()
        log.info("database ready", extra={"dialect": dialect.value})
        if self.settings.ingest.enabled:
            self.ingest = IngestService(self.nats, self.db, self.settings.ingest, self.metrics)
            self.ingest.start()
        self.maintenance = Maintenance(
            self.db,
            dialect,
            self.settings.retention,
            self.metrics,
            self.settings.rollup_refresh_s,
        )
        self.maintenance.start()

    async def stop(self) -> None:
        if self._bring_up is not None:
            self._bring_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bring_up
        if self.ingest is not None:
            await self.ingest.stop()
        if self.maintenance is not None:
            await self.maintenance.stop()
        await self.push.stop()
        await self.camera_registry.stop()
        await self.health.stop()
        await self.hub.close()
        if self.vision is not None:
            await self.vision.close()
        await self.nats.close()
        await self.db.close()

    async def readiness(self) -> dict[str, bool]:
        """What /ready reports: every part that must work for the gateway to serve."""
        database = await self.db.ping()
        return {
            "database": database,
            "schema": self.schema_ready.is_set(),
            "nats": self.nats.connected,
            "live": self.hub.ready,
        }
