"""Helpers for the live view tests: a store node on real services, a WebRTC viewer
(aiortc on loopback, host candidates only, as a browser on the same network would be),
and a synthetic video whose frames say their own index and where the person is."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.support.media import media_path
from trinetra.config.camera import BackoffConfig, CameraConfig, CameraRole
from trinetra.inference import TritonSettings

# --- a store node ----------------------------------------------------------------------


def camera(
    camera_id: str, source: str, fps: float, role: CameraRole = CameraRole.ENTRANCE
) -> CameraConfig:
    return CameraConfig(
        id=camera_id,
        name=camera_id,
        role=role,
        source=source,
        target_fps=fps,
        loop=True,
        open_timeout_s=2,
        read_timeout_s=3,
        reconnect=BackoffConfig(initial_s=0.2, max_s=1.0),
    )


def store_node(
    triton_url: str, nats_url: str, cameras: list[CameraConfig], store_id: str = "live-store"
) -> StoreNode:
    settings = NodeSettings(
        store_id=store_id,
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=30, retries=2, backoff_max_s=0.5),
        health_port=0,
    )
    return StoreNode(settings, cameras, metrics=OrchestratorMetrics(CollectorRegistry()))


def node_url(node: StoreNode) -> str:
    return f"http://127.0.0.1:{node.health.port}"


async def post(
    url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        if isinstance(body, bytes):
            return await client.post(url, content=body, headers=headers)
        return await client.post(url, json=body, headers=headers)


async def answered_offer(
    url: str, sdp: str, headers: dict[str, str] | None = None, timeout_s: float = 30
) -> dict[str, Any]:
    """POST the offer until the camera is live (503 before), then the answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        response = await post(url, {"sdp": sdp, "type": "offer"}, headers)
        if response.status_code != 503 or loop.time() > deadline:
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer
        await asyncio.sleep(0.3)


# --- a viewer --------------------------------------------------------------------------


class Viewer:
    """A receive-only WebRTC peer."""

    def __init__(self) -> None:
        self.peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peer.addTransceiver("video", direction="recvonly")
        self._tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        self.peer.on("track", self._tracks.put_nowait)

    async def offer(self) -> str:
        await self.peer.setLocalDescription(await self.peer.createOffer())
        sdp: str = self.peer.localDescription.sdp
        return sdp

    async def accept(self, answer: dict[str, Any]) -> None:
        await self.peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def frames(self, count: int, timeout_s: float = 30) -> list[NDArray[np.uint8]]:
        track = await asyncio.wait_for(self._tracks.get(), timeout_s)
        images: list[NDArray[np.uint8]] = []
        for _ in range(count):
            frame = await asyncio.wait_for(track.recv(), timeout_s)
            assert isinstance(frame, av.VideoFrame)
            images.append(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
        return images

    async def close(self) -> None:
        await self.peer.close()


@asynccontextmanager
async def viewer() -> AsyncIterator[Viewer]:
    peer = Viewer()
    try:
        yield peer
    finally:
        with contextlib.suppress(Exception):
            await peer.close()


# --- a video that says which frame it is -------------------------------------------------

WIDTH, HEIGHT = 640, 480
FRAMES = 24
STEP_PX = 20  # the person moves this far right each frame: one frame late is 20 px off
PERSON_X0, PERSON_Y = 60, 160
PERSON_HEIGHT = 260
CODE_BITS = 5  # enough for FRAMES
CODE_CELL, CODE_PITCH, CODE_ORIGIN = 24, 32, (8, 8)


def person_crop() -> NDArray[np.uint8]:
    """The man in the beige coat from ultralytics' bus.jpg, scaled to PERSON_HEIGHT."""
    image = cv2.imread(str(media_path("bus.jpg")))
    assert image is not None
    crop = image[380:915, 60:225]
    scale = PERSON_HEIGHT / crop.shape[0]
    resized = cv2.resize(crop, (round(crop.shape[1] * scale), PERSON_HEIGHT))
    return np.asarray(resized, np.uint8)


def person_x(index: int) -> int:
    return PERSON_X0 + STEP_PX * index


def synthetic_frame(index: int, person: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A grey gradient, the person pasted at `person_x(index)`, the index as a binary code
    of black and white cells in the top left corner (big enough to survive VP8)."""
    column = np.linspace(80, 170, HEIGHT, dtype=np.float32).astype(np.uint8)
    frame = np.ascontiguousarray(np.broadcast_to(column[:, None, None], (HEIGHT, WIDTH, 3)))
    x = person_x(index)
    frame[PERSON_Y : PERSON_Y + person.shape[0], x : x + person.shape[1]] = person
    ox, oy = CODE_ORIGIN
    for bit in range(CODE_BITS):
        value = 255 if (index >> bit) & 1 else 0
        left = ox + bit * CODE_PITCH
        frame[oy : oy + CODE_CELL, left : left + CODE_CELL] = value
    return frame


def read_code(image: NDArray[np.uint8]) -> int:
    ox, oy = CODE_ORIGIN
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    index = 0
    for bit in range(CODE_BITS):
        left = ox + bit * CODE_PITCH
        core = gray[oy + 6 : oy + CODE_CELL - 6, left + 6 : left + CODE_CELL - 6]
        if float(core.mean()) > 128:
            index |= 1 << bit
    return index


def write_synthetic_video(path: Path, fps: float = 10.0) -> list[NDArray[np.uint8]]:
    """MJPEG in AVI, FRAMES frames; returns the frames as a decoder reads them back."""
    person = person_crop()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for index in range(FRAMES):
        writer.write(synthetic_frame(index, person))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    decoded: list[NDArray[np.uint8]] = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        decoded.append(np.asarray(image, np.uint8))
    capture.release()
    assert len(decoded) == FRAMES
    return decoded


# --- finding the drawn box in a received frame --------------------------------------------


def green_mask(image: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Pixels of the box colour (0, 220, 0), with room for the video codec's blur."""
    b, g, r = (image[..., c].astype(np.int16) for c in range(3))
    mask: NDArray[np.bool_] = (g > 130) & (g - np.maximum(b, r) > 50)
    return mask


def drawn_box_columns(image: NDArray[np.uint8], min_run: int = 80) -> tuple[int, int] | None:
    """(left, right) columns of the drawn box's vertical edges: the outermost columns
    with at least `min_run` box-coloured pixels (the label is far shorter)."""
    counts = green_mask(image).sum(axis=0)
    columns = np.flatnonzero(counts >= min_run)
    if len(columns) == 0:
        return None
    return int(columns[0]), int(columns[-1])
