"""The store node feeds tracked faces to the identity service: a camera showing an enrolled
customer yields an identity.resolved event for that track on JetStream, and erasing the
customer deletes those events; an unknown person walking past two cameras gets one visit
id, another person a different one, and erasing the visit deletes its templates."""

from __future__ import annotations

import uuid
from pathlib import Path

import cv2
import numpy as np

from identity.config import (
    AuditConfig,
    GalleryConfig,
    IdentityConfig,
    ServiceConfig,
)
from identity.service import IdentityService
from tests.orchestrator.test_node import node, poll_events
from tests.support.jetstream import stream_events
from tests.support.media import media_bytes
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton
from trinetra.config.camera import CameraConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    Event,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    TrackStartedEvent,
)
from trinetra.events.streams import IDENTITY_STREAMS
from trinetra.inference import TritonSettings, VisionClient

STORE = "test-store"  # the node helper's store


def video_of(
    photo: str, path: Path, frames: int = 30, empty_before: int = 0, empty_after: int = 0
) -> Path:
    """A short video of one photo, as a camera would see a person standing still, between
    `empty_before` and `empty_after` frames of an empty view (10 frames a second)."""
    image = cv2.imdecode(np.frombuffer(media_bytes(photo), np.uint8), cv2.IMREAD_COLOR)
    scale = 640 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale)
    empty = np.full((480, 640, 3), 90, np.uint8)
    canvas = empty.copy()
    h, w = min(480, image.shape[0]), min(640, image.shape[1])
    canvas[:h, :w] = image[:h, :w]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (640, 480))
    for _ in range(empty_before):
        writer.write(empty)
    for _ in range(frames):
        writer.write(canvas)
    for _ in range(empty_after):
        writer.write(empty)
    writer.release()
    return path


async def test_enrolled_customer_on_camera_is_resolved(
    triton_server: LocalTriton, nats_server: NatsServer, tmp_path: Path
) -> None:
    config = ServiceConfig(
        store_id=STORE,
        nats_servers=(nats_server.url,),
        identity=IdentityConfig(
            gallery=GalleryConfig(path=str(tmp_path / "gallery")),
            audit=AuditConfig(path=tmp_path / "audit.jsonl"),
        ),
    )
    connection = NatsConnection(nats_server.url)
    publisher = EventPublisher(connection, streams=IDENTITY_STREAMS)
    async with VisionClient(TritonSettings(url=triton_server.grpc_url, call_timeout_s=60)) as vc:
        service = IdentityService(config, analyzer=vc, connection=connection, publisher=publisher)
        await service.start()
        try:
            assert await service.wait_ready(10)
            await service.enroll("obama", media_bytes("obama.jpg"), actor="test", reason="test")
            camera = CameraConfig(
                id="face-cam",
                name="face-cam",
                role="face_capture",
                target_fps=10,
                loop=True,
                source=str(video_of("obama_partial_face.jpg", tmp_path / "obama.avi")),
            )
            async with node(triton_server.grpc_url, nats_server.url, [camera]):
                events = await poll_events(
                    nats_server.url,
                    "IDENTITY",
                    lambda ev: any(isinstance(e, IdentityResolvedEvent) for e in ev),
                    90,
                )
            # erasure removes the stored events naming the customer as well
            erased = await service.erase("obama", actor="privacy-officer", reason="request")
            assert erased.events_purged >= 1
            remaining = await stream_events(nats_server.url, "IDENTITY")
            assert not [e for e in remaining if getattr(e, "customer_id", None) == "obama"]
        finally:
            await service.close()
            await publisher.close(timeout_s=2)
            await connection.close()
    resolved = [e for e in events if isinstance(e, IdentityResolvedEvent)]
    assert {e.customer_id for e in resolved} == {"obama"}
    tracks = {
        e.track_id
        for e in await stream_events(nats_server.url, "TRACKS")
        if isinstance(e, TrackStartedEvent)
    }
    assert {e.track_id for e in resolved} <= tracks


def passing(camera_id: str, video: Path) -> CameraConfig:
    return CameraConfig(
        id=camera_id, name=camera_id, role="face_capture", target_fps=5, source=str(video)
    )


def linked_visits(events: list[Event]) -> dict[str, set[uuid.UUID]]:
    """Camera -> the face-linked visit ids its tracks were reported with."""
    out: dict[str, set[uuid.UUID]] = {}
    for e in events:
        if isinstance(e, IdentityUnknownEvent) and e.visit_scope == "linked":
            out.setdefault(e.camera_id, set()).add(e.visit_id)
    return out


async def test_an_unknown_visitor_keeps_one_visit_id_across_cameras(
    triton_server: LocalTriton, nats_server: NatsServer, tmp_path: Path
) -> None:
    """Obama (not enrolled) passes the door, then the aisle (another photo of him); Biden
    passes the till afterwards. Through the real pipeline, tracker, feed and service."""
    config = ServiceConfig(
        store_id=STORE,
        nats_servers=(nats_server.url,),
        identity=IdentityConfig(
            gallery=GalleryConfig(path=str(tmp_path / "gallery")),
            audit=AuditConfig(path=tmp_path / "audit.jsonl"),
        ),
    )

    # 4 s of a face each, one after another; 30 s videos, so that no camera starts over
    # (a finished file is reopened, like a camera reconnecting) while the test runs.
    def shows(photo: str, name: str, after_s: int) -> Path:
        before = 10 * after_s
        return video_of(photo, tmp_path / name, 40, before, 300 - 40 - before)

    cameras = [
        passing("door", shows("obama.jpg", "door.avi", 0)),
        passing("aisle", shows("obama2.jpg", "aisle.avi", 6)),
        passing("till", shows("biden.jpg", "till.avi", 12)),
    ]
    connection = NatsConnection(nats_server.url)
    publisher = EventPublisher(connection, streams=IDENTITY_STREAMS)
    async with VisionClient(TritonSettings(url=triton_server.grpc_url, call_timeout_s=60)) as vc:
        service = IdentityService(config, analyzer=vc, connection=connection, publisher=publisher)
        await service.start()
        try:
            assert await service.wait_ready(10)
            async with node(triton_server.grpc_url, nats_server.url, cameras):
                events = await poll_events(
                    nats_server.url,
                    "IDENTITY",
                    lambda ev: set(linked_visits(ev)) == {"door", "aisle", "till"},
                    120,
                )
            visits = linked_visits(events)
            (door,), (aisle,), (till,) = visits["door"], visits["aisle"], visits["till"]
            assert door == aisle  # one person, one visit, across cameras
            assert till != door  # another person never shares it
            assert not [e for e in events if isinstance(e, IdentityResolvedEvent)]
            assert service.engine.visit_templates(door) >= 1
            erased = await service.erase_visit(door, actor="privacy-officer", reason="request")
            assert erased.found and service.engine.visit_templates(door) == 0
            assert service.engine.visit_templates(till) >= 1  # the other visit is untouched
        finally:
            await service.close()
            await publisher.close(timeout_s=2)
            await connection.close()
