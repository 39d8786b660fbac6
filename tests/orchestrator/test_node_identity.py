"""The store node feeds tracked faces to the identity service: a camera showing an enrolled
customer yields an identity.resolved event for that track on JetStream, and erasing the
customer deletes those events."""

from __future__ import annotations

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
from trinetra.events.schema import IdentityResolvedEvent, TrackStartedEvent
from trinetra.events.streams import IDENTITY_STREAMS
from trinetra.inference import TritonSettings, VisionClient

STORE = "test-store"  # the node helper's store


def video_of(photo: str, path: Path, frames: int = 30) -> Path:
    """A short video of one photo, as a camera would see a person standing still."""
    image = cv2.imdecode(np.frombuffer(media_bytes(photo), np.uint8), cv2.IMREAD_COLOR)
    scale = 640 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    h, w = min(480, image.shape[0]), min(640, image.shape[1])
    canvas[:h, :w] = image[:h, :w]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (640, 480))
    for _ in range(frames):
        writer.write(canvas)
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
