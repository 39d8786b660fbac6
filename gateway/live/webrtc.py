"""WebRTC live view: the browser sends an SDP offer for a camera, the gateway answers and
streams that camera's frames with the tracked boxes drawn (aiortc).

The gateway reads the camera itself (the same CameraWorker the orchestrator uses, so the
same reconnect and validation rules), one reader per camera however many viewers watch.
Viewers only ever get the newest frame: a slow viewer skips frames, never queues them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from gateway.live.overlay import TrackOverlay
from orchestrator.cameras.worker import CameraWorker
from orchestrator.metrics import OrchestratorMetrics
from trinetra.config.camera import CameraConfig

log = logging.getLogger(__name__)
VIDEO_CLOCK_RATE = 90_000


class UnknownCameraError(KeyError):
    pass


class _CameraFeed:
    """The newest frame of one camera, read by a CameraWorker while anyone watches."""

    def __init__(self, config: CameraConfig, metrics: OrchestratorMetrics) -> None:
        self.worker = CameraWorker(config, metrics=metrics, score_motion=False)
        self.latest: NDArray[np.uint8] | None = None
        self.updated = asyncio.Event()
        self.viewers = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worker.start()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for frame in self.worker.frames():
            self.latest = frame.image
            self.updated.set()

    async def stop(self) -> None:
        await self.worker.stop(grace_s=5)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AnnotatedCameraTrack(VideoStreamTrack):
    """An aiortc video track of one camera's newest frames with the overlay drawn."""

    def __init__(self, camera_id: str, feed: _CameraFeed, overlay: TrackOverlay, fps: float):
        super().__init__()
        self.camera_id, self._feed, self._overlay = camera_id, feed, overlay
        self._interval = 1.0 / fps
        self._pts = 0
        self._next = time.monotonic()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self._next += self._interval
        await asyncio.sleep(max(0.0, self._next - time.monotonic()))
        while self._feed.latest is None:
            self._feed.updated.clear()
            await self._feed.updated.wait()
        image = self._overlay.draw(self.camera_id, self._feed.latest)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        self._pts += int(self._interval * VIDEO_CLOCK_RATE)
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        return frame


class LiveViewService:
    """Answers WebRTC offers for configured cameras and owns the peer connections."""

    def __init__(
        self,
        overlay: TrackOverlay,
        *,
        ice: RTCConfiguration | None = None,
        metrics: OrchestratorMetrics | None = None,
    ) -> None:
        self.overlay = overlay
        self._ice = ice
        self._metrics = metrics or OrchestratorMetrics(CollectorRegistry())
        self._cameras: dict[str, CameraConfig] = {}
        self._feeds: dict[str, _CameraFeed] = {}
        self._peers: set[RTCPeerConnection] = set()

    def set_cameras(self, cameras: list[CameraConfig]) -> None:
        self._cameras = {c.id: c for c in cameras}

    def set_camera(self, camera: CameraConfig) -> None:
        self._cameras[camera.id] = camera

    @property
    def viewers(self) -> int:
        return len(self._peers)

    async def answer(self, camera_id: str, sdp: str, kind: str = "offer") -> RTCSessionDescription:
        config = self._cameras.get(camera_id)
        if config is None:
            raise UnknownCameraError(camera_id)
        feed = self._feeds.get(camera_id)
        if feed is None:
            feed = self._feeds[camera_id] = _CameraFeed(config, self._metrics)
            feed.start()
        peer = RTCPeerConnection(self._ice)
        self._peers.add(peer)
        feed.viewers += 1
        peer.addTrack(AnnotatedCameraTrack(camera_id, feed, self.overlay, config.target_fps))

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState in ("failed", "closed"):
                await self._drop(peer, camera_id)

        await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        await peer.setLocalDescription(await peer.createAnswer())
        return peer.localDescription

    async def _drop(self, peer: RTCPeerConnection, camera_id: str) -> None:
        if peer not in self._peers:
            return
        self._peers.discard(peer)
        await peer.close()
        feed = self._feeds.get(camera_id)
        if feed is not None:
            feed.viewers -= 1
            if feed.viewers <= 0:  # nobody watches: stop reading the camera
                del self._feeds[camera_id]
                await feed.stop()

    async def close(self) -> None:
        for peer in list(self._peers):
            await peer.close()
        self._peers.clear()
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            await feed.stop()
