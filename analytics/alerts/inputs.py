"""What the alert engine reads: small facts taken from bus events, with their event time.

The engine does not read schema events directly: `input_for(event)` keeps the handful
of fields the rules use (so the engine's tests and the benchmark build inputs without
a full event, and a schema change touches only this module). `at` is always the event's
`occurred_at`: the frame time for analytics, the status time for a camera, the vote's
observation time for an identity. Times are POSIX seconds.

Every analytics event of a real camera is at least `CameraActivity`: it moves that
camera's clock, which is what the camera's deadlines (a queue held for T s, a stay
reaching T s, an hour closing) are judged against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trinetra.events.schema import (
    ANALYTICS_EVENT_TYPES,
    STORE_CAMERA_ID,
    CameraStatusEvent,
    Event,
    IdentityResolvedEvent,
    IdentityWithdrawnEvent,
    LineCrossedEvent,
    QueueSnapshotEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
)

__all__ = [
    "CameraActivity",
    "CameraStatus",
    "IdentityResolved",
    "IdentityWithdrawn",
    "Input",
    "LineCrossing",
    "QueueState",
    "StayEnded",
    "StayStarted",
    "ZoneOccupancy",
    "input_for",
]


@dataclass(frozen=True, slots=True)
class CameraActivity:
    """The camera's analytics produced something at `at` (its clock moves)."""

    camera_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ZoneOccupancy:
    """A zone now holds `count` people."""

    camera_id: str
    zone_id: str
    count: int
    at: float


@dataclass(frozen=True, slots=True)
class QueueState:
    """A queue zone's snapshot: its length and estimated wait (None until a service)."""

    camera_id: str
    zone_id: str
    length: int
    estimated_wait_s: float | None
    at: float


@dataclass(frozen=True, slots=True)
class StayStarted:
    """A track entered a zone at `entered_at` (confirmed at `at`)."""

    camera_id: str
    zone_id: str
    track_id: int
    entered_at: float
    at: float


@dataclass(frozen=True, slots=True)
class StayEnded:
    """A track's stay in a zone ended."""

    camera_id: str
    zone_id: str
    track_id: int
    at: float


@dataclass(frozen=True, slots=True)
class LineCrossing:
    """A track crossed a counting line at `crossed_at` (committed at `at`)."""

    camera_id: str
    line_id: str
    direction: Literal["in", "out"]
    crossed_at: float
    at: float


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A camera's connection state changed."""

    camera_id: str
    state: str
    at: float


@dataclass(frozen=True, slots=True)
class IdentityResolved:
    """A track was identified as an enrolled customer."""

    camera_id: str
    track_id: int
    customer_id: str
    vip: bool
    at: float


@dataclass(frozen=True, slots=True)
class IdentityWithdrawn:
    """A track's identity was withdrawn (customer None: erased)."""

    camera_id: str
    track_id: int
    customer_id: str | None
    at: float


Input = (
    CameraActivity
    | ZoneOccupancy
    | QueueState
    | StayStarted
    | StayEnded
    | LineCrossing
    | CameraStatus
    | IdentityResolved
    | IdentityWithdrawn
)


def input_for(event: Event) -> Input | None:
    """The engine's input for a bus event; None for events no rule reads."""
    at = event.occurred_at.timestamp()
    match event:
        case ZoneOccupancyEvent():
            return ZoneOccupancy(event.camera_id, event.zone_id, event.count, at)
        case QueueSnapshotEvent():
            return QueueState(
                event.camera_id, event.zone_id, event.length, event.estimated_wait_s, at
            )
        case ZoneEnteredEvent():
            return StayStarted(
                event.camera_id, event.zone_id, event.track_id, event.entered_at.timestamp(), at
            )
        case ZoneExitedEvent():
            return StayEnded(event.camera_id, event.zone_id, event.track_id, at)
        case LineCrossedEvent():
            return LineCrossing(
                event.camera_id, event.line_id, event.direction, event.crossed_at.timestamp(), at
            )
        case CameraStatusEvent():
            return CameraStatus(event.camera_id, event.state, at)
        case IdentityResolvedEvent():
            return IdentityResolved(
                event.camera_id, event.track_id, event.customer_id, event.vip, at
            )
        case IdentityWithdrawnEvent():
            return IdentityWithdrawn(event.camera_id, event.track_id, event.customer_id, at)
    if isinstance(event, ANALYTICS_EVENT_TYPES) and event.camera_id != STORE_CAMERA_ID:
        return CameraActivity(event.camera_id, at)
    return None
