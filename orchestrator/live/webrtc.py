"""Answering WebRTC offers for the node's cameras, and owning the peer connections.

One peer per viewer, each with its own track on the camera's AnnotatedFrameSource; at
most `max_viewers_per_camera` per camera. A peer that has not connected within
`connect_timeout_s` (the viewer went away after its offer) is closed, so abandoned
offers do not hold viewer slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from orchestrator.live.source import AnnotatedFrameSource
from orchestrator.live.track import AnnotatedVideoTrack

log = logging.getLogger(__name__)

MAX_VIEWERS_PER_CAMERA = 4
CONNECT_TIMEOUT_S = 30.0


class UnknownCameraError(KeyError):
    """The node runs no camera of that id."""


class CameraNotLiveError(RuntimeError):
    """The camera is connecting, failing or stopped: there is nothing to show."""


class ViewerLimitError(RuntimeError):
    """The camera already has its most viewers."""


class InvalidOfferError(ValueError):
    """The offer's SDP could not be used (malformed, or nothing to answer)."""


@dataclass(eq=False)
class _Viewer:
    camera_id: str
    source: AnnotatedFrameSource
    track: AnnotatedVideoTrack
    deadline: asyncio.Task[None] | None = None


class LiveViewAnswerer:
    """`is_live(camera_id)` says whether the camera currently delivers frames."""

    def __init__(
        self,
        sources: Mapping[str, AnnotatedFrameSource],
        is_live: Callable[[str], bool],
        *,
        max_viewers_per_camera: int = MAX_VIEWERS_PER_CAMERA,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        ice: RTCConfiguration | None = None,
    ) -> None:
        self._sources = sources
        self._is_live = is_live
        self._max_viewers = max_viewers_per_camera
        self._connect_timeout_s = connect_timeout_s
        # No STUN/TURN: host candidates only (the viewer reaches the node directly).
        self._ice = ice if ice is not None else RTCConfiguration(iceServers=[])
        self._viewers: dict[RTCPeerConnection, _Viewer] = {}
        self._closed = False

    def viewers(self, camera_id: str) -> int:
        source = self._sources.get(camera_id)
        return 0 if source is None else source.viewers

    async def answer(self, camera_id: str, sdp: str) -> RTCSessionDescription:
        source = self._sources.get(camera_id)
        if source is None:
            raise UnknownCameraError(camera_id)
        if self._closed or not self._is_live(camera_id):  # closed: the node is stopping
            raise CameraNotLiveError(camera_id)
        if source.viewers >= self._max_viewers:
            raise ViewerLimitError(camera_id)
        peer = RTCPeerConnection(self._ice)
        viewer = _Viewer(camera_id, source, AnnotatedVideoTrack(source))
        self._viewers[peer] = viewer
        source.attach()

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState in ("failed", "closed"):
                await self._drop(peer)

        peer.addTrack(viewer.track)
        try:
            await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            answer = await peer.createAnswer()
        except Exception as error:  # aiortc raises several kinds on a malformed offer
            await self._drop(peer)
            raise InvalidOfferError(camera_id) from error
        try:
            await peer.setLocalDescription(answer)  # gathers the host candidates
        except BaseException:
            await self._drop(peer)
            raise
        viewer.deadline = asyncio.create_task(self._close_unless_connected(peer))
        log.info(
            "live viewer joined",
            extra={"camera": camera_id, "viewers": source.viewers},
        )
        description: RTCSessionDescription = peer.localDescription
        return description

    async def _close_unless_connected(self, peer: RTCPeerConnection) -> None:
        await asyncio.sleep(self._connect_timeout_s)
        if peer.connectionState != "connected":
            log.info("live viewer never connected", extra={"camera": self._camera_of(peer)})
            await self._drop(peer, from_deadline=True)

    def _camera_of(self, peer: RTCPeerConnection) -> str | None:
        viewer = self._viewers.get(peer)
        return None if viewer is None else viewer.camera_id

    async def _drop(self, peer: RTCPeerConnection, *, from_deadline: bool = False) -> None:
        viewer = self._viewers.pop(peer, None)
        if viewer is None:  # already dropped (close() fires connectionstatechange again)
            return
        if viewer.deadline is not None and not from_deadline:
            viewer.deadline.cancel()
        viewer.track.stop()
        viewer.source.detach()
        await peer.close()
        log.info(
            "live viewer left",
            extra={"camera": viewer.camera_id, "viewers": viewer.source.viewers},
        )

    async def close(self) -> None:
        self._closed = True
        for peer in list(self._viewers):
            with contextlib.suppress(Exception):
                await self._drop(peer)
