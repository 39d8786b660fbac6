"""The analytics service against a real NATS JetStream: recorded detections in, ANALYTICS
events out; replays, partitions and live configuration. (A kill -9 mid-stream is in
test_service_crash.py, the real store node feeding it in test_node_to_analytics.py.)"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from analytics.partition import Partition, partition_of
from analytics.processor import PartitionProcessor
from analytics.settings import ServiceEngineSettings
from tests.analytics.scenarios import (
    STORE,
    camera_frames,
    facts,
    store_config,
    store_frames,
)
from tests.analytics.service_helpers import (
    analytics_events,
    consumed,
    health,
    publish_detections,
    put_config,
    running_service,
)
from tests.support.metrics import read_metric, scrape_metric
from tests.support.nats_server import NatsServer, NatsServerFactory
from tests.support.polling import eventually
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import (
    AnalyticsEvent,
    DetectionsEvent,
    LineCrossedEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
)

CAMERAS = ["entrance", "aisle", "till", "back"]


def reference(frames: list[DetectionsEvent], config: StoreAnalyticsConfig) -> list[AnalyticsEvent]:
    """An uninterrupted single-partition run of the same code, in process."""
    processor = PartitionProcessor(STORE, config, ServiceEngineSettings(), Partition())
    return [e for frame in frames for e in processor.process(frame)]


async def test_detections_to_analytics_events_end_to_end(nats_server: NatsServer) -> None:
    cameras = CAMERAS[:2]
    frames = store_frames(cameras)
    config = store_config(cameras)
    last = await publish_detections(nats_server.url, frames)
    async with running_service(nats_server.url, seed=config) as service:
        await consumed(service, last)
        base = f"http://127.0.0.1:{service.health.port}"
        status = await asyncio.to_thread(health, service.health.port)
        assert status["ready"] and status["stream_seq"] == last and status["config_version"] == 1
        frames_processed = await scrape_metric(
            f"{base}/metrics", "trinetra_analytics_frames_processed_total", {"camera": "aisle"}
        )
        assert frames_processed == 400
    events = await analytics_events(nats_server.url)
    assert facts(events) == facts(reference(frames, config))
    for camera in cameras:
        exits = {
            e.track_id: e.dwell_s
            for e in events
            if isinstance(e, ZoneExitedEvent) and e.camera_id == camera
        }
        assert exits == {1: pytest.approx(7.7, abs=0.3), 2: pytest.approx(2.0, abs=0.3)}
        crossings = [
            (e.track_id, e.direction)
            for e in events
            if isinstance(e, LineCrossedEvent) and e.camera_id == camera
        ]
        assert crossings == [(1, "in"), (2, "out"), (1, "out")]
    assert {e.config_version for e in events} == {1}
    assert all(e.track_uid is not None for e in events if isinstance(e, ZoneEnteredEvent))


async def test_a_replay_gives_identical_events(nats_server_factory: NatsServerFactory) -> None:
    frames = store_frames(CAMERAS[:2], cycles=2)
    config = store_config(CAMERAS[:2])
    runs = []
    for _ in range(2):
        server = nats_server_factory()  # fresh state: nothing of the first run is there
        last = await publish_detections(server.url, frames)
        async with running_service(server.url, seed=config) as service:
            await consumed(service, last)
        runs.append(facts(await analytics_events(server.url)))
    assert runs[0] == runs[1]
    assert len(runs[0]) > 50
    assert len({event_id for event_id, _ in runs[0]}) == len(runs[0])


async def test_a_restart_resumes_from_the_checkpoint(nats_server: NatsServer) -> None:
    frames = store_frames(CAMERAS[:2], cycles=2)
    config = store_config(CAMERAS[:2])
    half = len(frames) // 2
    first = await publish_detections(nats_server.url, frames[:half])
    async with running_service(nats_server.url, seed=config) as service:
        await consumed(service, first)
    # Stopped cleanly: the checkpoint covers everything consumed.
    assert service.checkpoint_seq == first
    last = await publish_detections(nats_server.url, frames[half:])
    async with running_service(nats_server.url, seed=config) as service:
        await consumed(service, last)
        assert (
            read_metric(
                service.metrics.registry,
                "trinetra_analytics_messages_total",
                {"outcome": "processed"},
            )
            == len(frames) - half
        )
    events = await analytics_events(nats_server.url)
    assert facts(events) == facts(reference(frames, config))


async def test_two_partitions_split_the_cameras(nats_server: NatsServer) -> None:
    owners = {c: partition_of(STORE, c, 2) for c in CAMERAS}
    assert set(owners.values()) == {0, 1}
    frames = store_frames(CAMERAS)
    config = store_config(CAMERAS)
    last = await publish_detections(nats_server.url, frames)
    async with (
        running_service(nats_server.url, seed=config, partition=0, partitions=2) as zero,
        running_service(nats_server.url, seed=config, partition=1, partitions=2) as one,
    ):
        await consumed(zero, last)
        await consumed(one, last)
        for index, service in enumerate((zero, one)):
            registry = service.metrics.registry
            for camera, owner in owners.items():
                processed = read_metric(
                    registry, "trinetra_analytics_frames_processed_total", {"camera": camera}
                )
                assert processed == (400 if owner == index else 0), (index, camera)
    events = await analytics_events(nats_server.url)
    assert sorted(facts(events), key=str) == sorted(facts(reference(frames, config)), key=str)


async def test_live_configuration_changes_apply_without_restart(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    frames = camera_frames("cam-a", cycles=3)
    cycle = len(frames) // 3
    url = nats_server.url
    v1 = store_config(["cam-a"], version=1)
    async with running_service(url, seed=v1) as service:
        await consumed(service, await publish_detections(url, frames[:cycle]))
        # A new zone (on the line's in-side, where A stands) takes effect live.
        v2 = StoreAnalyticsConfig.model_validate(
            v1.model_dump()
            | {
                "version": 2,
                "zones": [
                    *v1.model_dump()["zones"],
                    {
                        "id": "front-cam-a",
                        "camera_id": "cam-a",
                        "name": "front",
                        "kind": "area",
                        "polygon": [[0.55, 0.2], [0.95, 0.2], [0.95, 0.8], [0.55, 0.8]],
                    },
                ],
            }
        )
        await put_config(url, v2)
        await eventually(
            lambda: service.processor is not None and service.processor.config.version == 2,
            message="version 2 in force",
        )
        await consumed(service, await publish_detections(url, frames[cycle : 2 * cycle]))
        # Invalid values in KV are logged and ignored; version 2 stays in force.
        with caplog.at_level(logging.ERROR, logger="analytics.live_config"):
            bowtie = v2.model_dump(mode="json") | {"version": 3}
            bowtie["zones"][0]["polygon"] = [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]
            await put_config(url, json.dumps(bowtie).encode())
            await put_config(url, b"not json at all")
            await put_config(url, v1)  # older than what runs
            await eventually(
                lambda: (
                    len(
                        [
                            r
                            for r in caplog.records
                            if "invalid analytics configuration" in r.message
                        ]
                    )
                    >= 3
                ),
                message="three refusals logged",
            )
        refusals = [r for r in caplog.records if "invalid analytics configuration" in r.message]
        assert "self-intersecting" in str(getattr(refusals[0], "error", ""))
        last = await publish_detections(url, frames[2 * cycle :])
        await consumed(service, last)
        assert service.processor is not None and service.processor.config.version == 2
        assert read_metric(service.metrics.registry, "trinetra_analytics_config_refused_total") == 3
    events = await analytics_events(url)
    front = [e for e in events if isinstance(e, ZoneEnteredEvent) and e.zone_id == "front-cam-a"]
    assert len(front) == 2 * 2  # both people, in the second and third cycles
    assert {e.config_version for e in front} == {2}
    first_cycle_end = frames[cycle - 1].occurred_at
    assert {e.config_version for e in events if e.occurred_at < first_cycle_end} == {1}
    assert {e.config_version for e in events if e.occurred_at > frames[cycle].occurred_at} == {2}


async def test_a_nats_restart_mid_stream_changes_nothing(nats_server: NatsServer) -> None:
    frames = store_frames(CAMERAS[:2], cycles=2)
    config = store_config(CAMERAS[:2])
    half = len(frames) // 2
    async with running_service(nats_server.url, seed=config) as service:
        await consumed(service, await publish_detections(nats_server.url, frames[:half]))
        await asyncio.to_thread(nats_server.restart)  # same port, same file store
        last = await publish_detections(nats_server.url, frames[half:])
        await consumed(service, last, timeout_s=90)
        await eventually(lambda: service.ready, message="the service ready again")
    events = await analytics_events(nats_server.url)
    assert facts(events) == facts(reference(frames, config))
