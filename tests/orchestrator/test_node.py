"""The store node end to end: real RTSP camera, real Triton, real NATS JetStream."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from devservices.paths import REPO_ROOT
from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.support.jetstream import stream_events
from tests.support.media import media_path
from tests.support.metrics import scrape_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer
from tests.support.triton_server import LocalTriton
from trinetra.config.camera import BackoffConfig, CameraConfig
from trinetra.events.schema import (
    CameraStatusEvent,
    DetectionsEvent,
    Event,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
)
from trinetra.inference import TritonSettings

STORE = "test-store"


def camera(camera_id: str, source: str, fps: float = 5.0) -> CameraConfig:
    return CameraConfig(
        id=camera_id,
        name=camera_id,
        role="tracking",
        source=source,
        target_fps=fps,
        loop=True,
        open_timeout_s=5,
        read_timeout_s=3,
        reconnect=BackoffConfig(initial_s=0.2, max_s=1.0),
    )


def node(triton_url: str, nats_url: str, cameras: list[CameraConfig]) -> StoreNode:
    settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=30, retries=2, backoff_max_s=0.5),
        health_port=0,
        checkpoint_every_s=1.0,
        track_update_every=3,
    )
    return StoreNode(settings, cameras, metrics=OrchestratorMetrics(CollectorRegistry()))


async def poll_events(
    url: str, stream: str, enough: Callable[[list[Event]], bool], timeout_s: float = 90
) -> list[Event]:
    """The events in `stream` once `enough` of them have arrived."""
    seen: list[Event] = []

    async def arrived() -> list[Event] | None:
        nonlocal seen
        seen = await stream_events(url, stream)
        return seen if enough(seen) else None

    try:
        return await eventually(arrived, timeout_s, interval_s=0.5, message=f"{stream} events")
    except AssertionError:
        raise AssertionError(f"{stream}: not enough events in {timeout_s} s: {len(seen)}") from None


async def http_get(url: str) -> tuple[int, bytes]:
    """GET off the event loop, which is busy serving the endpoint."""

    def get() -> tuple[int, bytes]:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), bytes(response.read())

    return await asyncio.to_thread(get)


def started_ids(events: list[Event]) -> set[int]:
    return {e.track_id for e in events if isinstance(e, TrackStartedEvent)}


async def test_rtsp_camera_to_jetstream_with_stable_track_ids(
    triton_server: LocalTriton, nats_server: NatsServer, rtsp_server: RtspServer
) -> None:
    async with node(
        triton_server.grpc_url, nats_server.url, [camera("entrance", rtsp_server.url, fps=8)]
    ) as store:
        tracks = await poll_events(
            nats_server.url,
            "TRACKS",
            lambda ev: (
                len(started_ids(ev)) >= 3 and sum(isinstance(e, TrackUpdatedEvent) for e in ev) >= 6
            ),
        )
        base = f"http://127.0.0.1:{store.health.port}"
        assert (await http_get(f"{base}/ready"))[0] == 200
        assert (
            await scrape_metric(
                f"{base}/metrics", "trinetra_frames_in_total", {"camera": "entrance"}
            )
            > 0
        )
    # the ids of updates belong to started tracks, and each id keeps one track uid
    started = {e.track_id: e.track_uid for e in tracks if isinstance(e, TrackStartedEvent)}
    for event in tracks:
        if isinstance(event, TrackUpdatedEvent):
            assert started[event.track_id] == event.track_uid
    detections = [
        e
        for e in await stream_events(nats_server.url, "DETECTIONS")
        if isinstance(e, DetectionsEvent)
    ]
    seqs = [e.frame_seq for e in detections]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert max(len(e.persons) for e in detections) >= 3
    tracked = {p.track_id for e in detections for p in e.persons if p.track_id is not None}
    assert tracked and tracked <= set(started)
    # shutdown ends every open track exactly once
    final = await stream_events(nats_server.url, "TRACKS")
    ended = [e.track_id for e in final if isinstance(e, TrackEndedEvent)]
    assert sorted(ended) == sorted(set(ended)) and set(ended) == started_ids(final)
    status = [
        e.state
        for e in await stream_events(nats_server.url, "CAMERA_STATUS")
        if isinstance(e, CameraStatusEvent)
    ]
    assert status[:2] == ["connecting", "live"] and status[-1] == "stopped"


async def test_camera_outage_is_published_and_recovers(
    triton_server: LocalTriton, nats_server: NatsServer, rtsp_server: RtspServer
) -> None:
    def states(events: list[Event]) -> list[str]:
        return [e.state for e in events if isinstance(e, CameraStatusEvent)]

    async with node(triton_server.grpc_url, nats_server.url, [camera("door", rtsp_server.url)]):
        await poll_events(nats_server.url, "CAMERA_STATUS", lambda ev: "live" in states(ev), 30)
        rtsp_server.kill()
        await poll_events(nats_server.url, "CAMERA_STATUS", lambda ev: "error" in states(ev), 30)
        await asyncio.to_thread(rtsp_server.start)  # returns once it accepts connections
        server_up = time.time()
        events = await poll_events(
            nats_server.url, "CAMERA_STATUS", lambda ev: states(ev).count("live") >= 2, 30
        )
        relive = [e for e in events if isinstance(e, CameraStatusEvent) and e.state == "live"][-1]
        assert relive.occurred_at.timestamp() - server_up < 5.0
    seen = states(await stream_events(nats_server.url, "CAMERA_STATUS"))
    assert seen.index("error") < len(seen) - 1 - seen[::-1].index("live")


@pytest.fixture
def own_triton() -> LocalTriton:
    return LocalTriton(
        workdir=REPO_ROOT / ".cache" / "triton-tests",
        extra_args=[
            arg
            for m in ("person_detector", "face_detector", "face_embedder", "vision_pipeline")
            for arg in ("--model", m)
        ],
    )


async def test_survives_nats_and_triton_restarts_without_losing_events(
    own_triton: LocalTriton, nats_server: NatsServer
) -> None:
    own_triton.start()
    video = str(media_path("vtest.avi"))
    try:
        async with node(own_triton.grpc_url, nats_server.url, [camera("aisle", video)]) as store:
            await poll_events(nats_server.url, "DETECTIONS", lambda ev: len(ev) >= 5, 60)
            nats_server.stop()
            before = store.cameras["aisle"].frames_analysed
            await asyncio.sleep(3)  # frames keep being analysed, events are held
            outage_frames = store.cameras["aisle"].frames_analysed - before
            assert outage_frames >= 3
            nats_server.start()
            await asyncio.to_thread(own_triton.restart)
            after_restart = store.cameras["aisle"].frames_analysed
            await poll_events(nats_server.url, "DETECTIONS", lambda ev: len(ev) >= 5, 60)
            await eventually(
                lambda: store.cameras["aisle"].frames_analysed >= after_restart + 5,
                60,
                interval_s=0.2,
                message="frames analysed after the Triton restart",
            )
            assert all(not t.done() for t in store.cameras["aisle"].tasks)
            analysed = store.cameras["aisle"].frames_analysed
            assert await store.publisher.flush(30)
    finally:
        own_triton.stop()
    detections = [
        e
        for e in await stream_events(nats_server.url, "DETECTIONS")
        if isinstance(e, DetectionsEvent)
    ]
    seqs = [e.frame_seq for e in detections]
    assert len(seqs) == len(set(seqs)) == analysed  # every analysed frame stored exactly once


async def test_restarted_node_resumes_track_ids(
    triton_server: LocalTriton, nats_server: NatsServer
) -> None:
    video = str(media_path("vtest.avi"))
    cams = [camera("aisle", video)]
    async with node(triton_server.grpc_url, nats_server.url, cams):
        first = await poll_events(nats_server.url, "TRACKS", lambda ev: len(started_ids(ev)) >= 3)
        await asyncio.sleep(1.5)  # at least one checkpoint
    highest = max(started_ids(await stream_events(nats_server.url, "TRACKS")))
    assert highest >= max(started_ids(first))
    restart_time = datetime.now().astimezone()
    async with node(triton_server.grpc_url, nats_server.url, cams):
        await poll_events(
            nats_server.url,
            "TRACKS",
            lambda ev: any(
                isinstance(e, TrackStartedEvent) and e.published_at > restart_time for e in ev
            ),
        )
    later = [
        e
        for e in await stream_events(nats_server.url, "TRACKS")
        if isinstance(e, TrackStartedEvent) and e.published_at > restart_time
    ]
    assert later and min(e.track_id for e in later) > highest
