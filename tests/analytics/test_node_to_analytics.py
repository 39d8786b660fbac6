"""The real store node on the sample camera (vtest.avi over RTSP, real Triton) feeding the
analytics service through real NATS: line crossings and zone events appear, each naming
the track uid the node gave the track."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.analytics.service_helpers import analytics_events, running_service
from tests.support.jetstream import stream_events
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer
from tests.support.triton_server import LocalTriton
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import BackoffConfig, CameraConfig
from trinetra.events.schema import (
    AnalyticsEvent,
    DetectionsEvent,
    LineCrossedEvent,
    TrackStartedEvent,
    ZoneEnteredEvent,
)
from trinetra.inference import TritonSettings

STORE = "test-store"
CAMERA = "entrance"

# The hand-counted tripwire (tests/analytics/data/vtest_line_crossings.json) and the
# paved road either side of it, where people walk all the time.
CONFIG = StoreAnalyticsConfig.model_validate(
    {
        "store_id": STORE,
        "version": 1,
        "lines": [
            {
                "id": "tripwire",
                "camera_id": CAMERA,
                "name": "tripwire",
                "a": [0.7005, 0.18],
                "b": [0.7005, 0.82],
                "in_side": "right",
            }
        ],
        "zones": [
            {
                "id": "plaza",
                "camera_id": CAMERA,
                "name": "plaza",
                "kind": "area",
                "polygon": [[0.01, 0.30], [0.48, 0.30], [0.48, 0.60], [0.01, 0.45]],
            },
            {
                "id": "car-park-walk",
                "camera_id": CAMERA,
                "name": "car park walk",
                "kind": "area",
                "polygon": [[0.73, 0.15], [0.99, 0.15], [0.99, 0.80], [0.73, 0.72]],
            },
        ],
    }
)


def store_node(triton_url: str, nats_url: str, source: str) -> StoreNode:
    settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=30, retries=2, backoff_max_s=0.5),
        health_port=0,
        checkpoint_every_s=1.0,
    )
    camera = CameraConfig(
        id=CAMERA,
        name=CAMERA,
        role="entrance",  # critical tier: never thinned, as a counting camera must not be
        source=source,
        target_fps=10,
        loop=True,
        open_timeout_s=5,
        read_timeout_s=3,
        reconnect=BackoffConfig(initial_s=0.2, max_s=1.0),
    )
    return StoreNode(settings, [camera], metrics=OrchestratorMetrics(CollectorRegistry()))


async def test_store_node_feeds_the_analytics_service(
    triton_server: LocalTriton,
    nats_server: NatsServer,
    rtsp_server_factory: Callable[..., RtspServer],
) -> None:
    rtsp = rtsp_server_factory(fps=10)  # the file's own rate: people walk at their speed
    url = nats_server.url

    def enough(events: list[AnalyticsEvent]) -> bool:
        crossed = any(isinstance(e, LineCrossedEvent) for e in events)
        entered = {e.zone_id for e in events if isinstance(e, ZoneEnteredEvent)}
        return crossed and len(entered) == 2

    async with (
        running_service(url, seed=CONFIG, store_id=STORE),
        store_node(triton_server.grpc_url, url, rtsp.url),
    ):
        seen: list[AnalyticsEvent] = []

        async def arrived() -> bool:
            nonlocal seen
            seen = await analytics_events(url)
            return enough(seen)

        await eventually(arrived, 75, interval_s=1.0, message="crossings and zone entries")
    started = {
        e.track_id: e.track_uid
        for e in await stream_events(url, "TRACKS")
        if isinstance(e, TrackStartedEvent)
    }
    detections = [
        e for e in await stream_events(url, "DETECTIONS") if isinstance(e, DetectionsEvent)
    ]
    # The node stamps each tracked person with its track's uid.
    for event in detections:
        for person in event.persons:
            if person.track_id is not None:
                assert person.track_uid == started[person.track_id]
    crossings = [e for e in seen if isinstance(e, LineCrossedEvent)]
    assert {e.direction for e in crossings} <= {"in", "out"}
    entries = [e for e in seen if isinstance(e, ZoneEnteredEvent)]
    for track_event in [*crossings, *entries]:
        assert track_event.camera_id == CAMERA and track_event.config_version == 1
        assert track_event.track_uid == started[track_event.track_id]
