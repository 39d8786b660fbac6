"""The unit the camera workers hand to the rest of the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Frame"]


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded, validated frame of one camera.

    Timestamps are UNIX epoch seconds. `capture_ts` is the camera's own time for the frame
    when the source provides one (file sources: media position; MJPEG: an X-Timestamp part
    header); OpenCV exposes no RTP/NTP time for RTSP or V4L2, and WebSocket and raw socket
    frames carry none, so those frames have None and fall back to the ingest time.
    """

    camera_id: str
    seq: int  # per camera, increasing across reconnects; gaps mean dropped frames
    image: NDArray[np.uint8]  # HxWx3 BGR
    ingest_ts: float  # when the orchestrator read it (time.time())
    ingest_monotonic: float  # the same instant on time.monotonic(), for ages and rates
    capture_ts: float | None = None
    motion: float | None = None  # 0..1 change since the previous emitted frame

    @property
    def effective_timestamp(self) -> float:
        """Camera time when known, else ingest time: what events should be stamped with."""
        return self.capture_ts if self.capture_ts is not None else self.ingest_ts

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def transport_delay_s(self) -> float | None:
        """Ingest minus capture time (camera clock drift included), when capture is known."""
        return None if self.capture_ts is None else self.ingest_ts - self.capture_ts
