"""The closed vocabularies that cross process and storage boundaries, each declared once.

The values are the wire and database forms: events carry them (`trinetra.events.schema`),
the SQL CHECK constraints list them (`sql/`, checked by tests/sql/test_vocabulary_checks.py)
and the GraphQL API exposes these very classes as its enums (gateway/api/types.py), where
the member *names* are the GraphQL values, so renaming a member changes the API.

Camera roles, priority tiers and source kinds belong to a camera's configuration and
live with it in `trinetra.config.camera`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AlertSeverity", "CameraState", "EventKind", "TrackEventKind"]


class EventKind(StrEnum):
    """The `kind` discriminator of every event on the bus."""

    DETECTIONS = "detections"
    TRACK_STARTED = "track.started"
    TRACK_UPDATED = "track.updated"
    TRACK_ENDED = "track.ended"
    CAMERA_STATUS = "camera.status"
    IDENTITY_RESOLVED = "identity.resolved"
    IDENTITY_UNKNOWN = "identity.unknown"
    IDENTITY_WITHDRAWN = "identity.withdrawn"
    ALERT_FALSE_MERGE = "alert.false_merge"
    ALERT_IDENTITY_DRIFT = "alert.identity_drift"
    ALERT_RAISED = "alert.raised"
    ALERT_RESOLVED = "alert.resolved"
    ZONE_ENTERED = "zone.entered"
    ZONE_EXITED = "zone.exited"
    ZONE_DWELL_EXCEEDED = "zone.dwell_exceeded"
    ZONE_OCCUPANCY = "zone.occupancy"
    AREA_OCCUPANCY = "area.occupancy"
    LINE_CROSSED = "line.crossed"
    QUEUE_SNAPSHOT = "queue.snapshot"
    QUEUE_ABANDONED = "queue.abandoned"
    HEATMAP_GRID = "heatmap.grid"
    VISIT_ENDED = "visit.ended"


class TrackEventKind(StrEnum):
    """The kinds of a track's lifecycle: a subset of `EventKind`, taken from it rather than
    spelled again."""

    STARTED = EventKind.TRACK_STARTED.value
    UPDATED = EventKind.TRACK_UPDATED.value
    ENDED = EventKind.TRACK_ENDED.value


class CameraState(StrEnum):
    """A camera's connection state (`camera.status` events).

    connecting: opening the stream; live: frames flowing; error: the stream failed and
    will be retried; stopped: deliberately stopped.
    """

    CONNECTING = "connecting"
    LIVE = "live"
    ERROR = "error"
    STOPPED = "stopped"


class AlertSeverity(StrEnum):
    """How urgent a stored alert is: a false merge is critical (two customers merged),
    identity drift warns, its recovery informs."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"
