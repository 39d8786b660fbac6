"""A KV bucket bound once per NATS connection (re-bound after a reconnect)."""

from __future__ import annotations

import asyncio

import nats.errors
from nats.js.kv import KeyValue

from trinetra.events.connection import NatsConnection
from trinetra.events.kv import KvBucketSpec, ensure_bucket

__all__ = ["BucketBinder"]


class BucketBinder:
    def __init__(self, nats: NatsConnection, spec: KvBucketSpec) -> None:
        self._nats = nats
        self.spec = spec
        self._bound: tuple[int, KeyValue] | None = None  # (connection generation, bucket)
        self._lock = asyncio.Lock()

    async def get(self) -> KeyValue:
        """The bucket (created if missing); ConnectionClosedError while NATS is down."""
        client = self._nats.client
        if client is None or not self._nats.connected:
            raise nats.errors.ConnectionClosedError
        generation = self._nats.generation
        if self._bound is None or self._bound[0] != generation:
            async with self._lock:
                if self._bound is None or self._bound[0] != generation:
                    kv = await ensure_bucket(client.jetstream(timeout=5.0), self.spec)
                    self._bound = (generation, kv)
        return self._bound[1]
