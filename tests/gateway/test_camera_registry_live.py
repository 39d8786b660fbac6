"""Cameras managed live: a camera registered through GraphQL runs on a store node that
was started with no cameras, its frames analysed and its status reported; changing,
disabling, enabling and deleting it take effect on the running node (gateway/feeds/
camera_registry.py -> NATS KV -> orchestrator/registry.py). Every part is real: RTSP,
Triton (CPU), NATS JetStream, PostgreSQL, the gateway and the store node.

And the gateway's side alone: a mutation made while NATS is down says
`registryPending`, and reaches the registry once NATS is back."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.gateway.helpers import STORE, RunningGateway
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer
from tests.support.triton_server import LocalTriton
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import (
    CAMERA_REGISTRY_BUCKET,
    CameraRegistryEntry,
    camera_registry_key,
    ensure_bucket,
)
from trinetra.inference import TritonSettings

CAMERA = "aisle-7"
FIELDS = "id status running registryPending config"
REGISTER = f"mutation ($c: JSON!) {{ registerCamera(config: $c) {{ {FIELDS} }} }}"
UPDATE = f'mutation ($p: JSON!) {{ updateCamera(id: "{CAMERA}", patch: $p) {{ {FIELDS} }} }}'
ENABLE = (
    f'mutation ($on: Boolean!) {{ setCameraEnabled(cameraId: "{CAMERA}", enabled: $on, '
    f'reason: "test") {{ {FIELDS} }} }}'
)
DELETE = f'mutation {{ deleteCamera(cameraId: "{CAMERA}", reason: "test") {{ {FIELDS} }} }}'
CAMERA_QUERY = f'{{ camera(id: "{CAMERA}") {{ {FIELDS} }} }}'


async def operator(gateway: RunningGateway, query: str, **variables: Any) -> dict[str, Any]:
    data: dict[str, Any] = await gateway.data(query, variables, scopes=("operator",))
    return next(iter(data.values()))


async def camera_row(gateway: RunningGateway) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (await gateway.data(CAMERA_QUERY))["camera"]
    return row


async def test_a_camera_registered_through_graphql_runs_on_the_node(
    triton_server: LocalTriton,
    nats_server: NatsServer,
    rtsp_server: RtspServer,
    gateway: RunningGateway,
) -> None:
    settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_server.url,
        health_port=0,
        status_every_s=1.0,
        triton=TritonSettings(url=triton_server.grpc_url, call_timeout_s=60),
    )
    node = StoreNode(settings, [], metrics=OrchestratorMetrics(CollectorRegistry()))
    async with node:
        assert node.cameras == {}  # nothing runs until the registry says so
        config = {
            "id": CAMERA,
            "name": "Aisle 7",
            "role": "tracking",
            "source": rtsp_server.url,
            "target_fps": 5,
        }
        registered = await operator(gateway, REGISTER, c=config)
        assert registered["registryPending"] is False
        assert registered["running"] is False  # no node has reported it yet

        # Within seconds the node runs it: frames analysed, status live, running.
        await eventually(
            lambda: (CAMERA in node.cameras and node.cameras[CAMERA].frames_analysed > 0) or None,
            timeout_s=60,
            message="the registered camera's frames analysed by the node",
        )

        async def live() -> dict[str, Any] | None:
            row = await camera_row(gateway)
            return row if row and row["status"] == "LIVE" and row["running"] else None

        await eventually(live, timeout_s=30, message="the camera live and running")

        # A change restarts it with the new config.
        await operator(gateway, UPDATE, p={"target_fps": 3})
        await eventually(
            lambda: (
                (CAMERA in node.cameras and node.cameras[CAMERA].config.target_fps == 3) or None
            ),
            timeout_s=20,
            message="the node running the changed config",
        )
        await eventually(
            lambda: node.cameras[CAMERA].frames_analysed > 0 or None,
            timeout_s=60,
            message="frames analysed after the restart",
        )

        # Disabled: the node stops it; the API says it is stopped and runs nowhere.
        disabled = await operator(gateway, ENABLE, on=False)
        assert disabled["config"]["enabled"] is False
        await eventually(lambda: CAMERA not in node.cameras or None, timeout_s=20)

        async def stopped() -> dict[str, Any] | None:
            row = await camera_row(gateway)
            return row if row and row["status"] == "STOPPED" and not row["running"] else None

        await eventually(stopped, timeout_s=20, message="the camera stopped, not running")

        # Enabled again, then deleted.
        await operator(gateway, ENABLE, on=True)
        await eventually(lambda: CAMERA in node.cameras or None, timeout_s=20)
        deleted = await operator(gateway, DELETE)
        assert deleted["registryPending"] is False
        await eventually(lambda: CAMERA not in node.cameras or None, timeout_s=20)


async def test_a_change_made_while_nats_is_down_reaches_the_registry_later(
    nats_server: NatsServer, gateway: RunningGateway
) -> None:
    config = {"id": CAMERA, "name": "Aisle 7", "role": "tracking", "source": "rtsp://127.0.0.1/x"}
    nats_server.stop()
    registered = await operator(gateway, REGISTER, c=config)
    assert registered["registryPending"] is True  # stored, not yet in the registry
    nats_server.start()

    connection = NatsConnection(nats_server.url)
    await connection.start()
    try:
        assert await connection.wait_connected(10) and connection.client is not None
        kv = await ensure_bucket(connection.client.jetstream(), CAMERA_REGISTRY_BUCKET)

        async def published() -> CameraRegistryEntry | None:
            try:
                found = await kv.get(camera_registry_key(STORE, CAMERA))
            except Exception:
                return None
            return CameraRegistryEntry.model_validate_json(found.value or b"")

        entry = await eventually(published, timeout_s=30, message="the camera in the registry")
        assert entry.origin == "gateway"
        assert entry.config["source"] == "rtsp://127.0.0.1/x"  # in clear: the node needs it
    finally:
        await connection.close()
