"""CheckpointStore on a real nats-server KV bucket, including outages and restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest

from orchestrator.checkpoint import CheckpointMetrics, CheckpointStore
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer, NatsServerFactory
from tests.support.polling import eventually
from trinetra.events.connection import NatsConnection

pytestmark = pytest.mark.timeout(60)

STATE: dict[str, Any] = {
    "frame_seq": 1234,
    "tracks": [{"id": 7, "mean": [0.1, 0.2, 0.3, 0.4], "age": 12}],
    "next_id": 8,
}


def count(metrics: CheckpointMetrics, name: str, result: str) -> float:
    return read_metric(metrics.registry, name, {"result": result})


@asynccontextmanager
async def store(url: str, **options: Any) -> AsyncIterator[tuple[NatsConnection, CheckpointStore]]:
    connection = NatsConnection(url, reconnect_time_wait_s=0.05, connect_timeout_s=1.0)
    await connection.start()
    try:
        yield connection, CheckpointStore(connection, timeout_s=1.0, **options)
    finally:
        await connection.close()


async def test_save_and_load_round_trip(nats_url: str) -> None:
    async with store(nats_url) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        assert await checkpoints.load("cam.01") is None
        assert await checkpoints.save("cam.01", STATE)
        assert await checkpoints.load("cam.01") == STATE
        # Keys are escaped, so ids that differ only in "." vs "_" stay apart.
        assert await checkpoints.save("cam_01", {"other": True})
        assert await checkpoints.load("cam.01") == STATE
        assert await checkpoints.save("cam.01", {"frame_seq": 1300})
        assert await checkpoints.load("cam.01") == {"frame_seq": 1300}
        assert await checkpoints.delete("cam.01")
        assert await checkpoints.load("cam.01") is None
        m = checkpoints.metrics
        assert count(m, "trinetra_checkpoint_saves_total", "ok") == 3
        assert count(m, "trinetra_checkpoint_loads_total", "hit") == 3
        assert count(m, "trinetra_checkpoint_loads_total", "miss") == 2


async def test_checkpoint_survives_server_restart(nats_server: NatsServer) -> None:
    async with store(nats_server.url) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        assert await checkpoints.save("cam-entrance", STATE)
        nats_server.stop()
        await eventually(lambda: not connection.connected, 5, message="the disconnect")
        nats_server.start()  # same store directory: the file store is recovered
        assert await connection.wait_connected(5)
        assert await checkpoints.load("cam-entrance") == STATE

    # Independently of our client: the value is really in the KV bucket on disk.
    nc = await nats.connect(nats_server.url)
    try:
        entry = await (await nc.jetstream().key_value("TRACKER_STATE")).get("cam-entrance")
        assert entry.value is not None
        assert json.loads(entry.value)["state"] == STATE
    finally:
        await nc.close()


async def test_outage_is_logged_and_counted_not_raised(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(start=False)
    async with store(server.url) as (connection, checkpoints):
        assert not await checkpoints.save("cam-1", STATE)
        assert await checkpoints.load("cam-1") is None
        assert not await checkpoints.delete("cam-1")
        assert count(checkpoints.metrics, "trinetra_checkpoint_saves_total", "error") == 1
        assert count(checkpoints.metrics, "trinetra_checkpoint_loads_total", "error") == 1

        server.start()
        assert await connection.wait_connected(5)
        assert await checkpoints.save("cam-1", STATE)
        assert await checkpoints.load("cam-1") == STATE


async def test_stale_checkpoint_is_not_resumed(nats_url: str) -> None:
    async with store(nats_url) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        assert await checkpoints.save("cam-1", STATE)
        assert await checkpoints.load("cam-1", max_age_s=60) == STATE
        assert await checkpoints.load("cam-1", max_age_s=0) is None
        assert count(checkpoints.metrics, "trinetra_checkpoint_loads_total", "stale") == 1


async def test_unserializable_state_is_a_caller_error(nats_url: str) -> None:
    async with store(nats_url) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        with pytest.raises(TypeError):
            await checkpoints.save("cam-1", {"bad": object()})
        with pytest.raises(ValueError):
            await checkpoints.save("cam-1", {"nan": float("nan")})


async def test_existing_bucket_with_other_settings_is_used(nats_url: str) -> None:
    async with store(nats_url, ttl_s=60.0) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        assert await checkpoints.save("cam-1", STATE)
    async with store(nats_url, ttl_s=120.0) as (connection, checkpoints):
        assert await connection.wait_connected(5)
        assert await checkpoints.load("cam-1") == STATE
