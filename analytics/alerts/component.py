"""The alerting component of the analytics application: the rule engine on the bus
(runner.py) and the webhooks (webhooks.py), configured live from the store's
ANALYTICS_CONFIG entry (its `alert_rules` and `webhooks`).

    alerting = Alerting(connection, store_id, settings.alerts)
    await alerting.start()
    ...
    await alerting.stop()

or `await run_alerting(connection, store_id, settings.alerts)`, which runs until
cancelled. One per store: in a store split into several analytics partitions, only
partition 0 runs it (the rules need the whole store's events; the streams are read
through the component's own consumers, not the partition's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CollectorRegistry

from analytics.alerts.metrics import AlertingMetrics
from analytics.alerts.runner import AlertRunner
from analytics.alerts.settings import AlertingSettings
from analytics.alerts.webhooks import WebhookDispatcher
from analytics.live_config import ConfigWatcher, read_config
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import ANALYTICS_CONFIG_BUCKET, ensure_bucket
from trinetra.events.publisher import EventPublisher
from trinetra.events.streams import ALERTS_STREAM

__all__ = ["Alerting", "run_alerting"]

log = logging.getLogger(__name__)


class Alerting:
    """Alert rules and webhooks for one store (module docs). `registry`: where the
    component's metrics go (the service's, to expose them with the rest)."""

    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        settings: AlertingSettings | None = None,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.store_id = store_id
        self.settings = settings if settings is not None else AlertingSettings()
        self.metrics = AlertingMetrics(registry)
        self._conn = connection
        # A publisher of its own: its flush is the runner's checkpoint barrier (the
        # service's publisher has its own). Its metrics stay private: the names are the
        # service publisher's, and one registry cannot hold both.
        self.publisher = EventPublisher(connection, streams=(ALERTS_STREAM,))
        self.runner = AlertRunner(
            connection, self.publisher, store_id, self.settings, metrics=self.metrics
        )
        self.webhooks = WebhookDispatcher(connection, store_id, self.settings, metrics=self.metrics)
        self.config: StoreAnalyticsConfig | None = None
        self._configured = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.settings.enabled or self._watch is not None:
            return
        await self._conn.start()
        await self.publisher.start()
        self.runner.start()
        self._watch = asyncio.create_task(self._follow_config(), name="alerts-config")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
            self._watch = None
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.runner.stop()
        await self.webhooks.stop()
        await self.publisher.close()

    async def wait_ready(self, timeout_s: float | None = None) -> bool:
        """True once a configuration runs, the rules' consumers are bound and every
        webhook queue exists (within `timeout_s`)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._configured.wait()
                await self.runner.ready.wait()
                if self._tasks:  # a webhook (re)configuration in progress
                    await asyncio.wait(set(self._tasks))
                return await self.webhooks.wait_bound(timeout_s)
        except TimeoutError:
            return False

    async def _follow_config(self) -> None:
        await self._conn.wait_connected()
        client = self._conn.client
        assert client is not None
        kv = await ensure_bucket(client.jetstream(timeout=5.0), ANALYTICS_CONFIG_BUCKET)
        current = await read_config(kv, self.store_id)
        if current is not None:
            self._on_config(current)
        else:
            log.info("waiting for the analytics configuration", extra={"store": self.store_id})
        watcher = ConfigWatcher(
            kv,
            self.store_id,
            running=lambda: self.config,
            on_config=self._on_config,
            generation=lambda: self._conn.generation,
        )
        await watcher.run()

    def _on_config(self, config: StoreAnalyticsConfig) -> None:
        self.config = config
        self.runner.offer_config(config)
        task = asyncio.create_task(self._configure_webhooks(config), name="alerts-webhooks")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _configure_webhooks(self, config: StoreAnalyticsConfig) -> None:
        try:
            await self.webhooks.configure(config.webhooks)
        except Exception as exc:
            log.error("cannot configure webhooks", extra={"error": repr(exc)})
            return
        self._configured.set()
        log.info(
            "alerting configured",
            extra={
                "config_version": config.version,
                "rules": len(config.alert_rules),
                "webhooks": self.webhooks.endpoints,
            },
        )


async def run_alerting(
    connection: NatsConnection,
    store_id: str,
    settings: AlertingSettings | None = None,
    *,
    registry: CollectorRegistry | None = None,
) -> None:
    """Run the store's alerting until cancelled, then stop it cleanly."""
    alerting = Alerting(connection, store_id, settings, registry=registry)
    await alerting.start()
    try:
        await asyncio.Event().wait()
    finally:
        await alerting.stop()
