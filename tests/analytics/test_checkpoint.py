"""Checkpoints in NATS KV (analytics.checkpoint): chunked, replaced atomically, checked."""

from __future__ import annotations

import os
from typing import cast

import pytest
from nats.js.kv import KeyValue

from analytics.checkpoint import Checkpoint, CheckpointError, CheckpointStore
from analytics.engine.events import JsonValue
from tests.analytics.service_helpers import nats_client
from tests.support.nats_server import NatsServer
from trinetra.events.kv import ANALYTICS_STATE_BUCKET, analytics_state_key, ensure_bucket

KEY = analytics_state_key("store-1", 0, 1)
SMALL = 16 * 1024  # forces several chunks


def big_state(seed: int) -> dict[str, JsonValue]:
    # Incompressible bytes (hex of random data) so the state spans several chunks.
    return {"seed": seed, "blob": os.urandom(40 * 1024).hex()}


async def test_a_checkpoint_round_trips_in_chunks(nats_server: NatsServer) -> None:
    async with nats_client(nats_server.url) as client:
        kv = await ensure_bucket(client.jetstream(), ANALYTICS_STATE_BUCKET)
        store = CheckpointStore(kv, KEY, max_value_bytes=SMALL)
        assert await store.load() is None
        saved = Checkpoint(42, big_state(1), {"cam-a": 40, "cam-b": 42})
        size = await store.save(saved)
        assert size > 2 * SMALL  # really chunked
        loaded = await CheckpointStore(kv, KEY, max_value_bytes=SMALL).load()
        assert loaded == saved


class _KilledBeforeTheHead:
    """A bucket whose writes of the checkpoint's head fail: a process killed mid-save."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, key: str) -> KeyValue.Entry:
        return await self._kv.get(key)

    async def put(self, key: str, value: bytes) -> int:
        if key == KEY:
            raise ConnectionError("killed")
        return await self._kv.put(key, value)


async def _interrupted_save(kv: KeyValue, state: dict[str, JsonValue]) -> None:
    dying = CheckpointStore(cast(KeyValue, _KilledBeforeTheHead(kv)), KEY, max_value_bytes=SMALL)
    await dying.load()
    with pytest.raises(ConnectionError):
        await dying.save(Checkpoint(99, state))


async def test_a_save_cut_short_leaves_the_previous_checkpoint(nats_server: NatsServer) -> None:
    async with nats_client(nats_server.url) as client:
        kv = await ensure_bucket(client.jetstream(), ANALYTICS_STATE_BUCKET)
        store = CheckpointStore(kv, KEY, max_value_bytes=SMALL)
        first = Checkpoint(10, big_state(1))
        await store.save(first)
        await _interrupted_save(kv, big_state(2))
        assert await CheckpointStore(kv, KEY, max_value_bytes=SMALL).load() == first
        # and the next complete save replaces it
        second = Checkpoint(20, big_state(3))
        await store.save(second)
        assert await CheckpointStore(kv, KEY, max_value_bytes=SMALL).load() == second


async def test_a_damaged_checkpoint_is_an_error_not_a_fresh_start(
    nats_server: NatsServer,
) -> None:
    async with nats_client(nats_server.url) as client:
        kv = await ensure_bucket(client.jetstream(), ANALYTICS_STATE_BUCKET)
        store = CheckpointStore(kv, KEY, max_value_bytes=SMALL)
        await store.save(Checkpoint(10, big_state(1)))
        await kv.put(f"{KEY}.s0.c1", b"garbage")  # the first save went to slot 0
        with pytest.raises(CheckpointError, match="digest"):
            await CheckpointStore(kv, KEY, max_value_bytes=SMALL).load()
        await kv.put(KEY, b"{not json")
        with pytest.raises(CheckpointError, match="unreadable"):
            await CheckpointStore(kv, KEY, max_value_bytes=SMALL).load()
