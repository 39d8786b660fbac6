"""The live view: a real WebRTC peer on loopback receives a camera's frames with the
tracked boxes drawn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from numpy.typing import NDArray

from gateway.live.overlay import BOX_COLOR, TrackOverlay
from gateway.live.webrtc import LiveViewService, UnknownCameraError
from tests.support.media import media_path
from trinetra.config.camera import CameraConfig
from trinetra.events.schema import BoundingBox, DetectedPerson, DetectionsEvent

BOX = BoundingBox(x1=0.25, y1=0.25, x2=0.5, y2=0.75)


def detections(camera_id: str, seq: int) -> DetectionsEvent:
    return DetectionsEvent(
        camera_id=camera_id,
        store_id="s1",
        occurred_at=datetime.now(UTC),
        frame_seq=seq,
        frame_width=768,
        frame_height=576,
        persons=(DetectedPerson(box=BOX, score=0.9, track_id=7),),
    )


def box_edge_is_drawn(image: NDArray[np.uint8], tolerance: int = 60) -> bool:
    height, width = image.shape[:2]
    x, y = round(BOX.x1 * width), round((BOX.y1 + BOX.y2) / 2 * height)
    pixel = image[y, x].astype(int)
    return bool(np.abs(pixel - np.array(BOX_COLOR)).max() <= tolerance)


def test_overlay_draws_fresh_boxes_only() -> None:
    overlay = TrackOverlay(max_age_s=0.2)
    blank = np.zeros((576, 768, 3), np.uint8)
    assert not box_edge_is_drawn(overlay.draw("cam", blank))
    overlay.update(detections("cam", 2))
    overlay.update(detections("cam", 1))  # older frame: ignored
    drawn = overlay.draw("cam", blank)
    assert box_edge_is_drawn(drawn) and overlay.latest("cam").frame_seq == 2  # type: ignore[union-attr]
    assert not box_edge_is_drawn(overlay.draw("other", blank))
    assert not blank.any()  # the source frame is never drawn on


async def test_browser_peer_receives_annotated_frames() -> None:
    overlay = TrackOverlay(max_age_s=60)
    ice = RTCConfiguration(iceServers=[])
    service = LiveViewService(overlay, ice=ice)
    camera = CameraConfig(
        id="door",
        name="door",
        role="entrance",
        source=str(media_path("vtest.avi")),
        target_fps=10,
        loop=True,
    )
    service.set_cameras([camera])
    overlay.update(detections("door", 1))
    viewer = RTCPeerConnection(ice)
    viewer.addTransceiver("video", direction="recvonly")
    received: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    viewer.on("track", received.put_nowait)
    try:
        try:
            await service.answer("nope", "v=0", "offer")
            raise AssertionError("unknown camera accepted")
        except UnknownCameraError:
            pass
        await viewer.setLocalDescription(await viewer.createOffer())
        answer = await service.answer("door", viewer.localDescription.sdp, "offer")
        await viewer.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
        track = await asyncio.wait_for(received.get(), 20)
        frames = [await asyncio.wait_for(track.recv(), 20) for _ in range(5)]
        images = [f.to_ndarray(format="bgr24") for f in frames]  # type: ignore[union-attr]
        assert images[-1].shape == (576, 768, 3)
        assert any(box_edge_is_drawn(image) for image in images)
        assert images[-1].std() > 20  # real video content, not a blank frame
        assert service.viewers == 1
    finally:
        await viewer.close()
        await service.close()
