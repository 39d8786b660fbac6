"""`GET /live/{camera_id}/snapshot.jpg` on the node's operational HTTP server: one raw
frame of the camera as JPEG (what the gateway draws a heatmap over). 404 for a camera
this node does not run, 503 when no frame came within SNAPSHOT_WAIT_S (the camera is not
live). JPEG encoding runs off the event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from orchestrator.live.source import AnnotatedFrameSource

SNAPSHOT_WAIT_S: Final = 3.0
JPEG_QUALITY: Final = 85

# (status, content type, body)
SnapshotReply = tuple[int, str, bytes]


def _error(status: int, code: str, message: str) -> SnapshotReply:
    body = {"status": "error", "error": {"code": code, "message": message}}
    return status, "application/json", json.dumps(body).encode()


def _jpeg(image: NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("JPEG encoding failed")
    return bytes(data.tobytes())


class LiveSnapshotEndpoint:
    def __init__(
        self, sources: Mapping[str, AnnotatedFrameSource], wait_s: float = SNAPSHOT_WAIT_S
    ) -> None:
        self._sources = sources
        self._wait_s = wait_s

    async def handle(self, camera_id: str) -> SnapshotReply:
        source = self._sources.get(camera_id)
        if source is None:
            return _error(404, "NOT_FOUND", f"camera {camera_id!r} is not run by this node")
        image = await source.snapshot(self._wait_s)
        if image is None:
            return _error(503, "CAMERA_NOT_LIVE", f"camera {camera_id!r} delivered no frame")
        return 200, "image/jpeg", await asyncio.to_thread(_jpeg, image)
