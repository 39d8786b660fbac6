"""The live view, served by the store node: each analysed frame with its own tracked boxes
and ids drawn, streamed over WebRTC to whoever watches (the gateway relays the offer).

    node (after tracking) -> AnnotatedFrameSource (newest frame only, per camera)
        -> AnnotatedVideoTrack (one per viewer) -> aiortc peer -> browser

and one raw frame on request for the heatmap (`LiveSnapshotEndpoint`).
"""

from orchestrator.live.offer import LiveOfferEndpoint
from orchestrator.live.snapshot import LiveSnapshotEndpoint
from orchestrator.live.source import AnnotatedFrameSource
from orchestrator.live.webrtc import (
    CameraNotLiveError,
    InvalidOfferError,
    LiveViewAnswerer,
    UnknownCameraError,
    ViewerLimitError,
)

__all__ = [
    "AnnotatedFrameSource",
    "CameraNotLiveError",
    "InvalidOfferError",
    "LiveOfferEndpoint",
    "LiveSnapshotEndpoint",
    "LiveViewAnswerer",
    "UnknownCameraError",
    "ViewerLimitError",
]
