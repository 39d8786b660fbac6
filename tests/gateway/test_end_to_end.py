"""The whole path with every part real: an RTSP camera, the store node (Triton CPU), NATS
JetStream, the gateway and PostgreSQL. A GraphQL subscription client receives the track
events live, and queries return the rows stored from the same events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.gateway.helpers import STORE, RunningGateway, WsClient, token
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer
from tests.support.triton_server import LocalTriton
from trinetra.config.camera import CameraConfig
from trinetra.inference import TritonSettings

SUBSCRIPTION = """subscription { trackEvents(cameraIds: ["entrance-1"]) {
    kind cameraId trackId trackUid } }"""
TRACKS = """query ($from: DateTime!, $to: DateTime!) {
    tracks(cameraId: "entrance-1", from: $from, to: $to) { nodes { uid trackId samples } } }"""


async def test_rtsp_camera_to_graphql(
    triton_server: LocalTriton,
    nats_server: NatsServer,
    rtsp_server: RtspServer,
    gateway: RunningGateway,
) -> None:
    camera = CameraConfig(
        id="entrance-1", name="Entrance", role="entrance", source=rtsp_server.url, target_fps=8
    )
    settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_server.url,
        health_port=0,
        track_update_every=2,
        triton=TritonSettings(url=triton_server.grpc_url, call_timeout_s=60),
    )
    started = datetime.now(UTC)
    live: list[dict[str, object]] = []
    async with WsClient.connect(gateway.ws_url, token("viewer")) as ws:
        await ws.subscribe(SUBSCRIPTION)
        node = StoreNode(settings, [camera], metrics=OrchestratorMetrics(CollectorRegistry()))
        async with node:
            while len({e["trackId"] for e in live}) < 3 or len(live) < 10:
                live.append((await ws.next_data(timeout_s=60))["trackEvents"])
    assert {e["cameraId"] for e in live} == {"entrance-1"}
    assert any(e["kind"] == "STARTED" for e in live)
    live_uids = {e["trackUid"] for e in live}

    window = {
        "from": (started - timedelta(minutes=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }

    async def stored() -> list[dict[str, object]] | None:
        nodes = (await gateway.data(TRACKS, window))["tracks"]["nodes"]
        return nodes if live_uids <= {n["uid"] for n in nodes} else None

    nodes = await eventually(stored, timeout_s=30)
    assert all(int(str(n["samples"])) >= 1 for n in nodes)
