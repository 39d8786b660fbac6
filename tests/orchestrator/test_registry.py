"""The camera registry as the store node follows it (orchestrator/registry.py), on a real
NATS JetStream: the file's seeding rules, the replay, live changes, refused entries and a
renewed watch after the server restarts. The node's side (cameras started and stopped
with frames analysed) is tests/gateway/test_camera_registry_live.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from orchestrator.registry import CameraRegistry, seed_cameras
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.config.camera import CameraConfig
from trinetra.config.network import NetworkPolicy
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import (
    CAMERA_REGISTRY_BUCKET,
    CameraRegistryEntry,
    camera_registry_key,
    encode_camera_entry,
    ensure_bucket,
)

STORE = "blr-01"


def camera(camera_id: str, **fields: Any) -> CameraConfig:
    values: dict[str, Any] = {
        "id": camera_id,
        "name": camera_id,
        "role": "general",
        "source": f"rtsp://127.0.0.1:8554/{camera_id}",
        "target_fps": 5,
    }
    values.update(fields)
    return CameraConfig.model_validate(values)


@dataclass
class Node:
    """What a store node would be told: each `run_cameras` and `apply_camera` call."""

    runs: list[tuple[dict[str, CameraConfig], set[str]]] = field(default_factory=list)
    applied: list[tuple[str, CameraConfig | None]] = field(default_factory=list)
    refused: int = 0

    async def run_cameras(self, wanted: Mapping[str, CameraConfig], keep: set[str]) -> None:
        self.runs.append((dict(wanted), set(keep)))

    async def apply_camera(self, camera_id: str, config: CameraConfig | None) -> None:
        self.applied.append((camera_id, config))

    def refuse(self) -> None:
        self.refused += 1


@pytest.fixture
async def connection(nats_server: NatsServer) -> AsyncIterator[NatsConnection]:
    conn = NatsConnection(nats_server.url, reconnect_time_wait_s=0.05)
    await conn.start()
    assert await conn.wait_connected(10)
    yield conn
    await conn.close()


@pytest.fixture
async def kv(connection: NatsConnection) -> KeyValue:
    assert connection.client is not None
    return await ensure_bucket(connection.client.jetstream(), CAMERA_REGISTRY_BUCKET)


async def put(kv: KeyValue, config: CameraConfig | dict[str, Any]) -> None:
    if isinstance(config, CameraConfig):
        await kv.put(
            camera_registry_key(STORE, config.id), encode_camera_entry(config, 1, "gateway")
        )
        return
    value = CameraRegistryEntry.model_validate(
        {"version": 1, "origin": "gateway", "config": config}
    )
    await kv.put(camera_registry_key(STORE, str(config["id"])), value.model_dump_json().encode())


async def entry(kv: KeyValue, camera_id: str) -> CameraRegistryEntry:
    found = await kv.get(camera_registry_key(STORE, camera_id))
    return CameraRegistryEntry.model_validate_json(found.value or b"")


async def test_the_file_seeds_only_what_it_still_owns(kv: KeyValue) -> None:
    await put(kv, camera("api-managed", target_fps=9))  # written through the API
    await put(kv, camera("removed"))
    await kv.delete(camera_registry_key(STORE, "removed"))  # removed through the API

    file = [camera("new"), camera("api-managed", target_fps=2), camera("removed")]
    assert await seed_cameras(kv, STORE, file) == 1
    assert (await entry(kv, "new")).origin == "seed"
    assert (await entry(kv, "api-managed")).config["target_fps"] == 9  # the API's wins
    with pytest.raises(KeyNotFoundError):
        await entry(kv, "removed")  # the file does not bring it back

    # The file changed: a key it still owns follows it; the same file again writes nothing.
    assert await seed_cameras(kv, STORE, [camera("new", target_fps=3)]) == 1
    assert (await entry(kv, "new")).config["target_fps"] == 3
    assert await seed_cameras(kv, STORE, [camera("new", target_fps=3)]) == 0


async def test_replay_then_live_changes(connection: NatsConnection, kv: KeyValue) -> None:
    await put(kv, camera("a"))
    await put(kv, camera("b"))
    await put(kv, camera("off", enabled=False))
    await put(
        kv,
        {"id": "bad", "name": "bad", "role": "general", "source": "rtsp://127.0.0.1/x", "fps": 1},
    )
    node = Node()
    registry = CameraRegistry(
        connection,
        STORE,
        [camera("seeded")],
        NetworkPolicy.from_cidrs(["127.0.0.0/8"]),
        node.apply_camera,
        node.run_cameras,
        on_refused=node.refuse,
    )
    task = asyncio.create_task(registry.run())
    try:
        await asyncio.wait_for(registry.synced.wait(), 10)
        # The replay: every enabled, valid camera (the file's seed too); the refused one
        # is left as it runs, the disabled one does not run.
        assert len(node.runs) == 1
        wanted, keep = node.runs[0]
        assert sorted(wanted) == ["a", "b", "seeded"]
        assert wanted["a"] == camera("a")
        assert keep == {"bad"}
        assert node.refused == 1  # `fps` is no field: the error names it (logged)

        await put(kv, camera("a", target_fps=7))
        await put(kv, camera("b", enabled=False))
        await kv.delete(camera_registry_key(STORE, "seeded"))
        # Outside the allowlist: refused by the node's own policy, nothing applied.
        await put(kv, camera("c", source="rtsp://10.1.2.3/stream"))
        await kv.put(
            camera_registry_key(STORE, "d"), encode_camera_entry(camera("not-d"), 1, "gateway")
        )
        await kv.put(camera_registry_key(STORE, "junk"), b"{not json")
        await put(kv, camera("e"))

        await eventually(lambda: len(node.applied) >= 4 or None, timeout_s=10)
        assert node.applied == [
            ("a", camera("a", target_fps=7)),
            ("b", None),
            ("seeded", None),
            ("e", camera("e")),
        ]
        assert node.refused == 4  # the replay's one and these three
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_renewed_watch_replays_after_the_server_restarts(
    nats_server: NatsServer, connection: NatsConnection, kv: KeyValue
) -> None:
    await put(kv, camera("a"))
    node = Node()
    registry = CameraRegistry(
        connection,
        STORE,
        [],
        NetworkPolicy.from_cidrs(["127.0.0.0/8"]),
        node.apply_camera,
        node.run_cameras,
    )
    task = asyncio.create_task(registry.run())
    try:
        await asyncio.wait_for(registry.synced.wait(), 10)
        generation = connection.generation
        nats_server.restart()
        await eventually(lambda: connection.generation > generation or None, timeout_s=20)
        # The new watch replays the whole registry: the node runs exactly it again.
        await eventually(lambda: len(node.runs) >= 2 or None, timeout_s=20)
        assert sorted(node.runs[1][0]) == ["a"]
        assert connection.client is not None
        renewed = await ensure_bucket(connection.client.jetstream(), CAMERA_REGISTRY_BUCKET)
        await renewed.delete(camera_registry_key(STORE, "a"))
        await eventually(lambda: node.applied == [("a", None)] or None, timeout_s=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
