"""Events as table rows: which table each event kind lands in, and its column values.

Pure functions of the decoded event (trinetra/events/schema.py), so the mapping is
tested without a database. Boxes and other nested values become jsonb.

Analytics events (the ANALYTICS stream) go to the table of the figure they feed
(sql/migrations/0002_analytics.sql), keyed by the time the fact happened: a crossing by
`crossed_at`, a stay by `exited_at`, an abandonment by `left_at`, a heatmap grid by its
`minute_start`. Analytics kinds without a table of their own (zone.entered,
zone.dwell_exceeded, area.occupancy, and kinds added later) are kept in
`analytics_events` with their fields as details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from trinetra.events.schema import (
    ANALYTICS_EVENT_TYPES,
    AlertRaisedEvent,
    AlertResolvedEvent,
    AnalyticsEvent,
    AreaOccupancyEvent,
    BoundingBox,
    CameraStatusEvent,
    DetectionsEvent,
    Event,
    FalseMergeAlertEvent,
    HeatmapGridEvent,
    IdentityDriftAlertEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    IdentityWithdrawnEvent,
    LineCrossedEvent,
    QueueAbandonedEvent,
    QueueSnapshotEvent,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    VisitEndedEvent,
    ZoneDwellExceededEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """An event table: its name and the columns an event fills (in row order)."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("event_id", "occurred_at")


_ENVELOPE: Final = ("occurred_at", "event_id", "store_id", "camera_id")

DETECTIONS: Final = Table(
    "detections",
    (
        *_ENVELOPE,
        "frame_seq",
        "frame_width",
        "frame_height",
        "person_count",
        "face_count",
        "persons",
        "model_versions",
        "published_at",
    ),
)
TRACK_EVENTS: Final = Table(
    "track_events",
    (
        *_ENVELOPE,
        "kind",
        "track_id",
        "track_uid",
        "frame_seq",
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "sample_every_frames",
        "details",
        "published_at",
    ),
)
CAMERA_STATUS_EVENTS: Final = Table(
    "camera_status_events",
    (*_ENVELOPE, "state", "reason", "reconnect_attempt", "published_at"),
)
IDENTITY_EVENTS: Final = Table(
    "identity_events",
    (
        *_ENVELOPE,
        "kind",
        "track_id",
        "track_uid",
        "visit_id",
        "customer_id",
        "confidence",
        "reason",
        "vip",
        "details",
        "published_at",
    ),
)
ALERTS: Final = Table(
    "alerts",
    (
        *_ENVELOPE,
        "kind",
        "severity",
        "customer_id",
        "details",
        "published_at",
        "rule_id",
        "dedup_key",
    ),
    key=("event_id",),
)
# alert.resolved: one row per resolution; ingest closes the alert it names (writer.py).
ALERT_RESOLUTIONS: Final = Table(
    "alert_resolutions",
    (
        *_ENVELOPE,
        "raised_event_id",
        "rule_id",
        "dedup_key",
        "reason",
        "details",
        "published_at",
    ),
    key=("event_id",),
)

# --- analytics tables ------------------------------------------------------------------
_TRACK: Final = ("track_id", "track_uid", "visit_id")
_TAIL: Final = ("config_version", "published_at")

LINE_CROSSINGS: Final = Table(
    "line_crossings",
    (
        "crossed_at",
        "event_id",
        "occurred_at",
        "store_id",
        "camera_id",
        "line_id",
        "direction",
        *_TRACK,
        "counts_store_entry",
        *_TAIL,
    ),
    key=("event_id", "crossed_at"),
)
ZONE_STAYS: Final = Table(
    "zone_stays",
    (
        "exited_at",
        "event_id",
        "occurred_at",
        "store_id",
        "camera_id",
        "zone_id",
        *_TRACK,
        "entered_at",
        "dwell_s",
        "reason",
        *_TAIL,
    ),
    key=("event_id", "exited_at"),
)
ZONE_OCCUPANCY_CHANGES: Final = Table(
    "zone_occupancy_changes",
    (*_ENVELOPE, "zone_id", "count", "previous", "capacity", "over_capacity", *_TAIL),
)
QUEUE_SNAPSHOTS: Final = Table(
    "queue_snapshots",
    (
        *_ENVELOPE,
        "zone_id",
        "length",
        "median_service_s",
        "estimated_wait_s",
        "observed_wait_s",
        "served",
        "abandoned",
        "over_wait_threshold",
        *_TAIL,
    ),
)
QUEUE_ABANDONMENTS: Final = Table(
    "queue_abandonments",
    (
        "left_at",
        "event_id",
        "occurred_at",
        "store_id",
        "camera_id",
        "zone_id",
        *_TRACK,
        "waited_s",
        *_TAIL,
    ),
    key=("event_id", "left_at"),
)
HEATMAP_GRIDS: Final = Table(
    "heatmap_grids",
    (
        "minute_start",
        "event_id",
        "occurred_at",
        "store_id",
        "camera_id",
        "cols",
        "rows",
        "samples",
        "person_seconds",
        "flow_dx",
        "flow_dy",
        "flow_samples",
        *_TAIL,
    ),
    key=("event_id", "minute_start"),
)
VISITS: Final = Table(
    "visits",
    (
        "started_at",
        "event_id",
        "occurred_at",
        "store_id",
        "camera_id",
        "visit_id",
        "ordinal",
        "linked",
        "customer_id",
        "camera_ids",
        "track_uids",
        "entered_at",
        "ended_at",
        "end_reason",
        "duration_s",
        "path",
        "stays",
        "funnel_stages",
        *_TAIL,
    ),
    key=("event_id", "started_at"),
)
ANALYTICS_EVENTS: Final = Table(
    "analytics_events",
    (*_ENVELOPE, "kind", "subject", "track_uid", "details", *_TAIL),
)

TABLES: Final = (
    DETECTIONS,
    TRACK_EVENTS,
    CAMERA_STATUS_EVENTS,
    IDENTITY_EVENTS,
    ALERTS,
    ALERT_RESOLUTIONS,
    LINE_CROSSINGS,
    ZONE_STAYS,
    ZONE_OCCUPANCY_CHANGES,
    QUEUE_SNAPSHOTS,
    QUEUE_ABANDONMENTS,
    HEATMAP_GRIDS,
    VISITS,
    ANALYTICS_EVENTS,
)
# Tables whose customer_id is cleared for customers erased before the event occurred.
CUSTOMER_TABLES: Final = frozenset({IDENTITY_EVENTS.name, ALERTS.name, VISITS.name})


def box_json(box: BoundingBox) -> dict[str, float]:
    return {"x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2}


def _envelope(event: Event) -> tuple[Any, ...]:
    return (event.occurred_at, event.event_id, event.store_id, event.camera_id)


def alert_severity(
    event: FalseMergeAlertEvent | IdentityDriftAlertEvent | AlertRaisedEvent,
) -> str:
    """A false merge is a P0 (two customers merged); drift warns, recovery informs; a
    rule's alert has the rule's severity."""
    if isinstance(event, AlertRaisedEvent):
        return event.severity
    if isinstance(event, FalseMergeAlertEvent):
        return "critical"
    return "warning" if event.state == "drifting" else "info"


def row_for(event: Event) -> tuple[Table, Row]:
    """The table an event is stored in and its row (columns as in the `Table`)."""
    match event:
        case DetectionsEvent():
            # Compact rows, not objects: [x1, y1, x2, y2, score, track_id or null].
            persons = [
                [p.box.x1, p.box.y1, p.box.x2, p.box.y2, p.score, p.track_id] for p in event.persons
            ]
            return DETECTIONS, (
                *_envelope(event),
                event.frame_seq,
                event.frame_width,
                event.frame_height,
                len(event.persons),
                event.face_count,
                persons,
                dict(event.model_versions) or None,
                event.published_at,
            )
        case TrackStartedEvent() | TrackUpdatedEvent() | TrackEndedEvent():
            return TRACK_EVENTS, _track_row(event)
        case CameraStatusEvent():
            return CAMERA_STATUS_EVENTS, (
                *_envelope(event),
                event.state,
                event.reason,
                event.reconnect_attempt,
                event.published_at,
            )
        case IdentityResolvedEvent() | IdentityUnknownEvent() | IdentityWithdrawnEvent():
            return IDENTITY_EVENTS, _identity_row(event)
        case FalseMergeAlertEvent() | IdentityDriftAlertEvent():
            return ALERTS, _alert_row(event)
        case AlertRaisedEvent():
            return ALERTS, _rule_alert_row(event)
        case AlertResolvedEvent():
            return ALERT_RESOLUTIONS, _alert_resolution_row(event)
    if isinstance(event, ANALYTICS_EVENT_TYPES):
        return analytics_row_for(event)
    raise TypeError(f"no table for {type(event).__name__}")  # pragma: no cover


def _track_row(event: TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent) -> Row:
    details: dict[str, Any] | None = None
    if isinstance(event, TrackEndedEvent):
        details = {
            "first_seen_at": event.first_seen_at.isoformat(),
            "last_seen_at": event.last_seen_at.isoformat(),
            "duration_s": event.duration_s,
            "frames_seen": event.frames_seen,
            "path_length": event.path_length,
            "end_reason": event.end_reason,
            "path": [[p.t, p.x, p.y] for p in event.path],
        }
        return (
            *_envelope(event),
            event.kind,
            event.track_id,
            event.track_uid,
            *_NO_BOX,
            details,
            event.published_at,
        )
    box = event.box
    every = event.sample_every_frames if isinstance(event, TrackUpdatedEvent) else None
    return (
        *_envelope(event),
        event.kind,
        event.track_id,
        event.track_uid,
        event.frame_seq,
        box.x1,
        box.y1,
        box.x2,
        box.y2,
        event.score,
        every,
        None,
        event.published_at,
    )


# frame_seq, x1, y1, x2, y2, score, sample_every_frames of a track.ended row
_NO_BOX: Final = (None,) * 7


def _identity_row(
    event: IdentityResolvedEvent | IdentityUnknownEvent | IdentityWithdrawnEvent,
) -> Row:
    customer_id: str | None = None
    confidence: float | None = None
    reason: str | None = None
    vip = False
    details: dict[str, Any] = {}
    match event:
        case IdentityResolvedEvent():
            customer_id, confidence, vip = event.customer_id, event.confidence, event.vip
            details = {"votes": event.votes, "window": event.window}
        case IdentityUnknownEvent():
            reason = event.reason
            details = {"observations": event.observations, "best_score": event.best_score}
        case IdentityWithdrawnEvent():
            customer_id, reason = event.customer_id, event.reason
    return (
        *_envelope(event),
        event.kind,
        event.track_id,
        event.track_uid,
        event.visit_id,
        customer_id,
        confidence,
        reason,
        vip,
        details,
        event.published_at,
    )


def _alert_row(event: FalseMergeAlertEvent | IdentityDriftAlertEvent) -> Row:
    customer_id: str | None = None
    if isinstance(event, FalseMergeAlertEvent):
        customer_id = event.customer_id
        details: dict[str, Any] = {
            "tracks": [
                {
                    "camera_id": t.camera_id,
                    "track_id": t.track_id,
                    "track_uid": None if t.track_uid is None else str(t.track_uid),
                    "first_seen_at": t.first_seen_at.isoformat(),
                    "last_seen_at": t.last_seen_at.isoformat(),
                }
                for t in event.tracks
            ],
            "min_transit_s": event.min_transit_s,
            "gap_s": event.gap_s,
        }
    else:
        details = {
            "state": event.state,
            "baseline_mean": event.baseline_mean,
            "rolling_mean": event.rolling_mean,
            "margin": event.margin,
            "samples": event.samples,
        }
    return (
        *_envelope(event),
        event.kind,
        alert_severity(event),
        customer_id,
        details,
        event.published_at,
        None,
        None,
    )


def _rule_alert_figures(event: AlertRaisedEvent | AlertResolvedEvent) -> dict[str, Any]:
    # No customer id here: erasure clears the customer_id column only (schema: the
    # subject's customer id is the one place an alert names a customer).
    subject = event.subject
    return {
        "rule_id": event.rule_id,
        "rule_kind": event.rule_kind,
        "rule_name": event.rule_name,
        "dedup_key": event.dedup_key,
        "subject": {
            "camera_id": subject.camera_id,
            "zone_id": subject.zone_id,
            "line_id": subject.line_id,
        },
        "message": event.message,
        "value": event.value,
        "threshold": event.threshold,
        "unit": event.unit,
        "config_version": event.config_version,
        "figures": dict(event.details),
    }


def _rule_alert_row(event: AlertRaisedEvent) -> Row:
    details = {**_rule_alert_figures(event), "condition_since": event.condition_since.isoformat()}
    return (
        *_envelope(event),
        event.kind,
        alert_severity(event),
        event.subject.customer_id,
        details,
        event.published_at,
        event.rule_id,
        event.dedup_key,
    )


def _alert_resolution_row(event: AlertResolvedEvent) -> Row:
    details = {
        **_rule_alert_figures(event),
        "raised_at": event.raised_at.isoformat(),
        "duration_s": event.duration_s,
    }
    return (
        *_envelope(event),
        event.raised_event_id,
        event.rule_id,
        event.dedup_key,
        event.reason,
        details,
        event.published_at,
    )


def analytics_row_for(event: AnalyticsEvent) -> tuple[Table, Row]:
    """The table and row of an analytics event (module docs)."""
    tail = (event.config_version, event.published_at)
    match event:
        case LineCrossedEvent():
            return LINE_CROSSINGS, (
                event.crossed_at,
                event.event_id,
                event.occurred_at,
                event.store_id,
                event.camera_id,
                event.line_id,
                event.direction,
                event.track_id,
                event.track_uid,
                event.visit_id,
                event.counts_store_entry,
                *tail,
            )
        case ZoneExitedEvent():
            return ZONE_STAYS, (
                event.exited_at,
                event.event_id,
                event.occurred_at,
                event.store_id,
                event.camera_id,
                event.zone_id,
                event.track_id,
                event.track_uid,
                event.visit_id,
                event.entered_at,
                event.dwell_s,
                event.reason,
                *tail,
            )
        case ZoneOccupancyEvent():
            return ZONE_OCCUPANCY_CHANGES, (
                *_envelope(event),
                event.zone_id,
                event.count,
                event.previous,
                event.capacity,
                event.over_capacity,
                *tail,
            )
        case QueueSnapshotEvent():
            return QUEUE_SNAPSHOTS, (
                *_envelope(event),
                event.zone_id,
                event.length,
                event.median_service_s,
                event.estimated_wait_s,
                event.observed_wait_s,
                event.served,
                event.abandoned,
                event.over_wait_threshold,
                *tail,
            )
        case QueueAbandonedEvent():
            return QUEUE_ABANDONMENTS, (
                event.left_at,
                event.event_id,
                event.occurred_at,
                event.store_id,
                event.camera_id,
                event.zone_id,
                event.track_id,
                event.track_uid,
                event.visit_id,
                event.waited_s,
                *tail,
            )
        case HeatmapGridEvent():
            return HEATMAP_GRIDS, (
                event.minute_start,
                event.event_id,
                event.occurred_at,
                event.store_id,
                event.camera_id,
                event.cols,
                event.rows,
                list(event.samples),
                list(event.person_seconds),
                list(event.flow_dx),
                list(event.flow_dy),
                list(event.flow_samples),
                *tail,
            )
        case VisitEndedEvent():
            return VISITS, (
                event.started_at,
                event.event_id,
                event.occurred_at,
                event.store_id,
                event.camera_id,
                event.visit_id,
                event.ordinal,
                event.linked,
                event.customer_id,
                list(event.camera_ids),
                list(event.track_uids),
                event.entered_at,
                event.ended_at,
                event.end_reason,
                event.duration_s,
                list(event.path),
                [stay.model_dump(mode="json") for stay in event.stays],
                dict(event.funnel_stages),
                *tail,
            )
    return ANALYTICS_EVENTS, _other_analytics_row(event)


def _other_analytics_row(event: AnalyticsEvent) -> Row:
    subject: str | None = None
    track_uid = None
    match event:
        case ZoneEnteredEvent() | ZoneDwellExceededEvent():
            subject, track_uid = event.zone_id, event.track_uid
        case AreaOccupancyEvent():
            subject = event.area
    envelope = {"schema_version", "event_id", "kind", "camera_id", "store_id", "occurred_at"}
    details = event.model_dump(mode="json", exclude=envelope | {"published_at", "config_version"})
    return (
        *_envelope(event),
        event.kind,
        subject,
        track_uid,
        details,
        event.config_version,
        event.published_at,
    )


@dataclass
class TrackMerge:
    """What a set of newly stored events of one track contribute to its `tracks` row."""

    track_uid: Any
    store_id: str
    camera_id: str
    track_id: int
    first_seen_at: Any
    last_seen_at: Any
    last_box: dict[str, float] | None = None
    last_score: float | None = None
    box_at: Any = None
    samples: int = 0
    ended_at: Any = None
    end_reason: str | None = None
    duration_s: float | None = None
    frames_seen: int | None = None
    path: list[list[float]] | None = None
    path_length: float | None = None

    def row(self) -> Row:
        return (
            self.track_uid,
            self.store_id,
            self.camera_id,
            self.track_id,
            self.first_seen_at,
            self.last_seen_at,
            self.last_box,
            self.last_score,
            self.box_at,
            self.samples,
            self.ended_at is not None,
            self.ended_at,
            self.end_reason,
            self.duration_s,
            self.frames_seen,
            self.path,
            self.path_length,
        )


def merge_tracks(
    events: Sequence[TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent],
) -> list[TrackMerge]:
    """Fold track events (any order) into one merge per track, sorted by track_uid so
    concurrent writers lock rows in the same order."""
    merges: dict[Any, TrackMerge] = {}
    for event in events:
        if isinstance(event, TrackEndedEvent):
            first, last = event.first_seen_at, event.last_seen_at
        else:
            first = last = event.occurred_at
        merge = merges.get(event.track_uid)
        if merge is None:
            merge = merges[event.track_uid] = TrackMerge(
                event.track_uid, event.store_id, event.camera_id, event.track_id, first, last
            )
        merge.first_seen_at = min(merge.first_seen_at, first)
        merge.last_seen_at = max(merge.last_seen_at, last)
        if isinstance(event, TrackEndedEvent):
            merge.ended_at = event.occurred_at
            merge.end_reason = event.end_reason
            merge.duration_s = event.duration_s
            merge.frames_seen = event.frames_seen
            merge.path = [[p.t, p.x, p.y] for p in event.path]
            merge.path_length = event.path_length
        else:
            merge.samples += 1
            if merge.box_at is None or event.occurred_at >= merge.box_at:
                merge.box_at = event.occurred_at
                merge.last_box = box_json(event.box)
                merge.last_score = event.score
    return [merges[uid] for uid in sorted(merges, key=str)]


def latest_status(events: Sequence[CameraStatusEvent]) -> list[CameraStatusEvent]:
    """The newest status event per camera, sorted by camera (lock order)."""
    newest: dict[tuple[str, str], CameraStatusEvent] = {}
    for event in events:
        key = (event.store_id, event.camera_id)
        if key not in newest or event.occurred_at >= newest[key].occurred_at:
            newest[key] = event
    return [newest[key] for key in sorted(newest)]


def latest_occupancy(events: Sequence[ZoneOccupancyEvent]) -> list[ZoneOccupancyEvent]:
    """The newest occupancy change per zone, sorted by zone (lock order)."""
    newest: dict[tuple[str, str, str], ZoneOccupancyEvent] = {}
    for event in events:
        key = (event.store_id, event.camera_id, event.zone_id)
        if key not in newest or event.occurred_at >= newest[key].occurred_at:
            newest[key] = event
    return [newest[key] for key in sorted(newest)]
