"""The store's analytics configuration, live from the ANALYTICS_CONFIG bucket.

The gateway writes a new version of the store's key on every change; `ConfigWatcher`
follows the key and hands each *valid, newer* configuration to a callback, which the
service applies between two messages (no restart). What it refuses, with a log line and
a count, while the previous configuration stays in force:

- a value that is not a valid `StoreAnalyticsConfig` (the error names every field),
- a configuration for another store,
- a version below the one running (a replayed or out-of-order write: applying it would
  roll the figures back to an older layout), or the running version with other content
  (every change must be a new version, or figures could not name what produced them),
- a deleted key (the configuration stays: deleting it is not "no zones").

A YAML file given to the service seeds the key only when it is empty (`seed`), so a
configuration edited through the API is never overwritten by a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import nats.errors
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.kv import (
    analytics_config_key,
    decode_analytics_config,
    encode_analytics_config,
)

__all__ = ["ConfigWatcher", "read_config", "seed_config"]

log = logging.getLogger(__name__)

# How long a watch waits for an update before checking that it is still alive.
_WATCH_POLL_S = 2.0


def _parse(value: bytes, store_id: str) -> StoreAnalyticsConfig | str:
    """The configuration in a KV value, or why it is refused."""
    try:
        config = decode_analytics_config(value)
    except ValidationError as exc:
        return str(exc)
    if config.store_id != store_id:
        return f"configuration is for store {config.store_id}, not {store_id}"
    return config


async def read_config(kv: KeyValue, store_id: str) -> StoreAnalyticsConfig | None:
    """The store's current configuration, or None when the key is empty or invalid."""
    try:
        entry = await kv.get(analytics_config_key(store_id))
    except (KeyNotFoundError, KeyDeletedError):
        return None
    parsed = _parse(entry.value or b"", store_id)
    if isinstance(parsed, str):
        log.error(
            "ignoring invalid analytics configuration",
            extra={"store_id": store_id, "revision": entry.revision, "error": parsed},
        )
        return None
    return parsed


async def seed_config(kv: KeyValue, config: StoreAnalyticsConfig) -> bool:
    """Write `config` as the store's configuration if it has none; True if written."""
    try:
        await kv.create(analytics_config_key(config.store_id), encode_analytics_config(config))
    except KeyWrongLastSequenceError:
        return False
    return True


class ConfigWatcher:
    """Follows the store's key and calls `on_config` with every valid, newer version."""

    def __init__(
        self,
        kv: KeyValue,
        store_id: str,
        running: Callable[[], StoreAnalyticsConfig | None],
        on_config: Callable[[StoreAnalyticsConfig], None],
        on_refused: Callable[[str], None] | None = None,
        generation: Callable[[], int] | None = None,
    ) -> None:
        """`running`: the configuration in force now (None before any); `generation`: the
        connection's (re)connect count: a watch made before a reconnect is renewed (the
        server may have lost its consumer)."""
        self._kv = kv
        self._store_id = store_id
        self._running = running
        self._on_config = on_config
        self._on_refused = on_refused
        self._generation = generation if generation is not None else (lambda: 0)

    async def run(self) -> None:
        """Watch until cancelled, renewing the watch when it breaks."""
        key = analytics_config_key(self._store_id)
        while True:
            watched = self._generation()
            try:
                watcher = await self._kv.watch(key)
            except Exception as exc:
                log.warning("cannot watch the analytics configuration", extra={"error": repr(exc)})
                await asyncio.sleep(_WATCH_POLL_S)
                continue
            try:
                await self._follow(watcher, watched)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("configuration watch broke; renewing", extra={"error": repr(exc)})
            finally:
                try:
                    await watcher.stop()  # type: ignore[no-untyped-call]
                except Exception as exc:
                    log.debug("stopping a broken watch failed", extra={"error": repr(exc)})

    async def _follow(self, watcher: KeyValue.KeyWatcher, watched: int) -> None:
        while True:
            try:
                entry = await watcher.updates(timeout=_WATCH_POLL_S)  # type: ignore[no-untyped-call]
            except nats.errors.TimeoutError:
                if self._generation() != watched:
                    return  # reconnected: a new watch replays the newest value
                continue
            if entry is None:
                continue  # "no more pending updates" marker
            if entry.operation is not None:
                self._refuse(f"the key was {entry.operation.lower()}d; keeping the configuration")
                continue
            self.offer(entry.value or b"", entry.revision)

    def offer(self, value: bytes, revision: int | None = None) -> None:
        """Check one KV value and pass it on if it is a valid, newer configuration."""
        parsed = _parse(value, self._store_id)
        if isinstance(parsed, str):
            self._refuse(parsed, revision)
            return
        running = self._running()
        if running is not None and parsed.version <= running.version:
            if parsed.version < running.version:
                self._refuse(f"version {parsed.version} is older than {running.version}", revision)
            elif parsed != running:
                self._refuse(f"version {parsed.version} reused for a different configuration")
            return  # the same configuration again (the watch's first value): nothing to do
        self._on_config(parsed)

    def _refuse(self, why: str, revision: int | None = None) -> None:
        log.error(
            "ignoring invalid analytics configuration",
            extra={"store_id": self._store_id, "revision": revision, "error": why},
        )
        if self._on_refused is not None:
            self._on_refused(why)
