"""What the engine consumes: per-camera frames of tracked people, and track ends.

Plain frozen dataclasses, not pydantic models: one frame of 20 people is built and read
thousands of times a second, and validation happened upstream (the tracker produced
these). The checks here are the cheap ones that would otherwise corrupt the engine's
time arithmetic: timestamps must be timezone-aware UTC, frame sizes positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_ZERO = timedelta(0)


def _check_utc(at: datetime, what: str) -> None:
    offset = at.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {at.isoformat()}")
    if offset != _ZERO:
        raise ValueError(f"{what} must be in UTC, got offset {offset}")


@dataclass(frozen=True, slots=True)
class TrackBox:
    """One tracked person in one frame.

    `xyxy` is the box (x1, y1, x2, y2) in the frame's pixels. `visit_id` comes from the
    identity service and is shared by every track (on any camera) of the same visit;
    `customer_id` is set only for an enrolled, resolved customer. Both are None until
    the identity service has decided.
    """

    track_id: int
    xyxy: tuple[float, float, float, float]
    score: float
    visit_id: str | None = None
    customer_id: str | None = None

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre of the box in pixels: where the person stands on the floor."""
        x1, _y1, x2, y2 = self.xyxy
        return ((x1 + x2) * 0.5, y2)


@dataclass(frozen=True, slots=True)
class TrackedFrame:
    """All tracked people of one camera frame. `at` is the capture time (UTC-aware): the
    engine runs on frame time only, never on the wall clock, so replays are exact."""

    camera_id: str
    frame_seq: int
    at: datetime
    width: int
    height: int
    tracks: tuple[TrackBox, ...]

    def __post_init__(self) -> None:
        _check_utc(self.at, "TrackedFrame.at")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")


@dataclass(frozen=True, slots=True)
class TrackEnded:
    """The tracker dropped a track (it left the view or was lost for too long). Stays and
    visits it held are closed at the time it was *last seen*, not at `at`, because the
    tracker only gives up on a track a while after the person disappeared."""

    camera_id: str
    track_id: int
    at: datetime

    def __post_init__(self) -> None:
        _check_utc(self.at, "TrackEnded.at")


def track_ended(camera_id: str, track_id: int, at: datetime) -> TrackEnded:
    """The track-end input for `StoreAnalytics.end_track`."""
    return TrackEnded(camera_id, track_id, at)
