"""One camera's newest analysed frame, for its live viewers.

The node hands over every tracked frame; with nobody watching that costs one comparison.
While someone watches, only a reference to the newest frame and its tracks is kept (the
previous one is dropped, never queued), and its boxes are drawn once, on a copy, the
first time a viewer asks for it: frames that no viewer gets to are never drawn.

`snapshot()` (the heatmap's background, `GET /live/{camera}/snapshot.jpg`) takes one
raw frame on request: the newest one held for viewers, or else the next one the node
hands over; nothing is kept for it in between.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orchestrator.cameras.frame import Frame
from orchestrator.live.drawing import draw_tracks
from trinetra.inference.detections import Detections


@dataclass(frozen=True, slots=True)
class AnnotatedFrame:
    """An analysed frame with its own tracks drawn. `version` orders the frames of one
    source (it only grows), `seq` is the camera's frame number."""

    version: int
    seq: int
    image: NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Analysed:
    version: int
    seq: int
    image: NDArray[np.uint8]
    tracks: Detections


class AnnotatedFrameSource:
    """Fed by the node right after tracking; read by the camera's viewer tracks."""

    def __init__(self, camera_id: str, fps: float) -> None:
        self.camera_id = camera_id
        self.fps = fps
        self._viewers = 0
        self._version = 0
        self._newest: _Analysed | None = None
        self._drawn: AnnotatedFrame | None = None
        self._changed = asyncio.Event()
        self._snapshot_waiters: list[asyncio.Future[NDArray[np.uint8]]] = []

    @property
    def viewers(self) -> int:
        return self._viewers

    def attach(self) -> None:
        self._viewers += 1

    def detach(self) -> None:
        self._viewers = max(0, self._viewers - 1)
        if self._viewers == 0:  # nobody watches: hold no frame
            self._newest = self._drawn = None

    def offer(self, frame: Frame, tracks: Detections) -> None:
        """The node's hook, on its hot path: keep a reference, draw nothing yet."""
        if self._snapshot_waiters:
            waiters, self._snapshot_waiters = self._snapshot_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(frame.image)
        if self._viewers == 0:
            return
        self._version += 1
        self._newest = _Analysed(self._version, frame.seq, frame.image, tracks)
        self._changed.set()

    async def snapshot(self, timeout_s: float) -> NDArray[np.uint8] | None:
        """One raw frame (BGR): the newest held for viewers, else the next one offered
        within `timeout_s`, else None (the camera is not delivering)."""
        if self._newest is not None:
            return self._newest.image
        waiter: asyncio.Future[NDArray[np.uint8]] = asyncio.get_running_loop().create_future()
        self._snapshot_waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            return None
        finally:
            if waiter in self._snapshot_waiters:
                self._snapshot_waiters.remove(waiter)

    def newest(self) -> AnnotatedFrame | None:
        """The newest analysed frame with its boxes drawn (drawn once, shared by viewers)."""
        newest = self._newest
        if newest is None:
            return None
        if self._drawn is None or self._drawn.version != newest.version:
            image = draw_tracks(newest.image, newest.tracks)
            self._drawn = AnnotatedFrame(newest.version, newest.seq, image)
        return self._drawn

    async def newer_than(self, version: int, timeout_s: float) -> AnnotatedFrame | None:
        """The newest frame once there is one past `version`, or after `timeout_s` whatever
        is newest (possibly that same frame again, or None before the first)."""
        deadline = time.monotonic() + timeout_s
        while self._newest is None or self._newest.version <= version:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                break
        return self.newest()
