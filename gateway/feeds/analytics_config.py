"""The analytics configuration into the NATS KV bucket ANALYTICS_CONFIG, where the
analytics service watches it and applies each version live.

The database is the record (gateway/db/analytics/config.py): a change is stored with its
audit entry first, and only then put into KV. When NATS is down the change is still
stored and the mutation succeeds; the stored version wins: a background task puts every
store's newest version that is not known to be in KV there once NATS is back (checked on
every reconnect and every `resync_s`), and marks it published. A KV value carries the
webhook secrets in clear (the alert sender signs with them; trinetra.config.alerts), so
it is written with REVEAL_SECRETS.

One exception to "the database wins": a store whose configuration is in KV but never was
in the database (seeded there by the analytics service from its YAML file) is imported
as its first stored version, so the API shows what the service runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import nats.errors
import nats.js.errors
from pydantic import ValidationError

from gateway.db.analytics import config as stored
from gateway.db.database import Database
from gateway.feeds.resync import resync_forever
from trinetra.config.alerts import REVEAL_SECRETS
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import ANALYTICS_CONFIG_BUCKET, analytics_config_key, ensure_bucket

log = logging.getLogger(__name__)

IMPORT_ACTOR: Final = "kv-import"


def encode(config: StoreAnalyticsConfig) -> bytes:
    """The KV value: the configuration JSON, secrets in clear (module docs)."""
    return config.model_dump_json(context=dict(REVEAL_SECRETS)).encode()


class AnalyticsConfigPublisher:
    def __init__(
        self,
        connection: NatsConnection,
        db: Database,
        store_id: str,
        schema_ready: asyncio.Event,
        resync_s: float = 30.0,
    ) -> None:
        self._conn = connection
        self._db = db
        self._schema_ready = schema_ready
        self._store_id = store_id
        self._resync_s = resync_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._sync_forever(), name="analytics-config-kv")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, config: StoreAnalyticsConfig) -> bool:
        """Put one stored version into KV now; False (and retried in the background) when
        NATS cannot take it."""
        try:
            await self._put(config)
        except Exception as exc:  # NATS down, or the database gone after the commit
            log.warning(
                "analytics configuration stored but not published yet (NATS); retrying",
                extra={"store": config.store_id, "version": config.version, "error": repr(exc)},
            )
            self._wakeup.set()
            return False
        return True

    async def _put(self, config: StoreAnalyticsConfig) -> None:
        client = self._conn.client
        if client is None or not self._conn.connected:
            raise nats.errors.ConnectionClosedError
        kv = await ensure_bucket(client.jetstream(timeout=5.0), ANALYTICS_CONFIG_BUCKET)
        await kv.put(analytics_config_key(config.store_id), encode(config))
        async with self._db.connection() as conn:
            await stored.mark_published(conn, config.store_id, config.version)
        log.info(
            "analytics configuration published",
            extra={"store": config.store_id, "version": config.version},
        )

    async def sync(self) -> int:
        """Import a KV-seeded configuration of our store, then publish every store's newest
        unpublished version; returns how many were published."""
        await self._import_seed()
        async with self._db.connection() as conn:
            pending = await stored.unpublished(conn)
        published = 0
        for version in pending:
            try:
                config = await stored.validated(version)
            except ValidationError:
                log.exception("stored analytics configuration is invalid; not published")
                continue
            await self._put(config)
            published += 1
        return published

    async def _import_seed(self) -> None:
        async with self._db.connection() as conn:
            if await stored.current(conn, self._store_id) is not None:
                return
        client = self._conn.client
        if client is None:
            return
        kv = await ensure_bucket(client.jetstream(timeout=5.0), ANALYTICS_CONFIG_BUCKET)
        try:
            entry = await kv.get(analytics_config_key(self._store_id))
        except nats.js.errors.KeyNotFoundError:
            return
        if entry.value is None:
            return
        try:
            # Off the event loop: a configuration at its limits takes long to validate.
            config = await asyncio.to_thread(StoreAnalyticsConfig.model_validate_json, entry.value)
        except ValidationError as exc:
            log.warning(
                "KV holds an invalid analytics configuration; not imported",
                extra={"store": self._store_id, "error": str(exc)[:500]},
            )
            return
        document: dict[str, Any] = config.model_dump(mode="json", context=dict(REVEAL_SECRETS))
        async with self._db.connection() as conn, conn.transaction():
            await stored.lock(conn, self._store_id)
            if await stored.current(conn, self._store_id) is not None:
                return
            await stored.insert(
                conn,
                self._store_id,
                config.version,
                document,
                actor=IMPORT_ACTOR,
                action="analytics_config.import",
                reason="seeded in NATS KV before the database knew it",
                diff={},
            )
            await stored.mark_published(conn, self._store_id, config.version)
        log.info(
            "analytics configuration imported from KV",
            extra={"store": self._store_id, "version": config.version},
        )

    async def _sync_forever(self) -> None:
        await resync_forever(
            self._conn,
            self._schema_ready,
            self._wakeup,
            self._resync_s,
            self.sync,
            "analytics configuration",
        )
