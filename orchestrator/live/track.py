"""The aiortc video track of one viewer: a camera's newest annotated frames, paced."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from orchestrator.live.source import AnnotatedFrameSource

VIDEO_CLOCK_RATE = 90_000
_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
# With no new analysed frame for this long (a stalled pipeline) the last one is sent
# again, so the peer keeps receiving media and does not declare the stream dead.
RESEND_AFTER_S = 1.0


class AnnotatedVideoTrack(MediaStreamTrack):
    """Sends each analysed frame at most once, at most at the camera's target fps; a
    viewer slower than the camera skips frames, it never queues them."""

    kind = "video"

    def __init__(self, source: AnnotatedFrameSource) -> None:
        super().__init__()
        self._source = source
        self._interval = 1.0 / source.fps
        self._started = time.monotonic()
        self._next_at = self._started
        self._last_version = 0
        self._last_pts = -1

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(max(0.0, self._next_at - time.monotonic()))
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            annotated = await self._source.newer_than(self._last_version, RESEND_AFTER_S)
            if annotated is not None:
                break
        self._last_version = annotated.version
        self._next_at = max(self._next_at + self._interval, time.monotonic())
        frame = av.VideoFrame.from_ndarray(annotated.image, format="bgr24")
        # Presentation time from the wall clock: the viewer plays frames as they came.
        pts = max(round((time.monotonic() - self._started) * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = frame.pts = pts
        frame.time_base = _TIME_BASE
        return frame
