"""The engine's inputs and outputs on the wire: DetectionsEvent -> TrackedFrame, and
EngineEvent -> the ANALYTICS events of `trinetra.events.schema`.

Pure functions. The engine speaks pixels and plain dataclasses; the bus speaks
normalized boxes and validated pydantic events. `occurred_at` of every outgoing event is
the engine event's `at` (the frame time of the detections that caused it), so the same
input gives the same events and, through the schema's deterministic ids, the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from analytics.engine.events import (
    AreaOccupancyChanged,
    DwellThresholdExceeded,
    EngineEvent,
    HeatmapGrid,
    LineCrossed,
    OccupancyChanged,
    QueueAbandoned,
    QueueSnapshot,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from analytics.engine.observations import TrackBox, TrackedFrame
from trinetra.events.schema import (
    STORE_CAMERA_ID,
    AnalyticsEvent,
    AreaDwell,
    AreaOccupancyEvent,
    DetectionsEvent,
    HeatmapGridEvent,
    LineCrossedEvent,
    QueueAbandonedEvent,
    QueueSnapshotEvent,
    VisitEndedEvent,
    VisitStay,
    ZoneDwellExceededEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
)

__all__ = ["TrackUidLookup", "to_wire", "tracked_frame", "untracked_persons"]

# (camera id, track id) -> the track's global uid, if known.
TrackUidLookup = Callable[[str, int], uuid.UUID | None]


def tracked_frame(event: DetectionsEvent) -> TrackedFrame:
    """The engine's view of one detections event: tracked persons only, boxes back in the
    frame's pixels (the engine measures dead bands in pixels of the person's own box)."""
    width, height = event.frame_width, event.frame_height
    boxes: list[TrackBox] = []
    for person in event.persons:  # a plain loop: this runs for every frame of every camera
        track_id = person.track_id
        if track_id is None:
            continue
        box = person.box
        xyxy = (box.x1 * width, box.y1 * height, box.x2 * width, box.y2 * height)
        boxes.append(TrackBox(track_id, xyxy, person.score))
    return TrackedFrame(
        camera_id=event.camera_id,
        frame_seq=event.frame_seq,
        at=event.occurred_at,
        width=width,
        height=height,
        tracks=tuple(boxes),
    )


def untracked_persons(event: DetectionsEvent) -> int:
    """Persons without a tracker id (an untracked frame): the engine cannot use them."""
    return sum(1 for person in event.persons if person.track_id is None)


def _visit_track_uids(event: VisitEnded, uid_of: TrackUidLookup) -> tuple[uuid.UUID, ...]:
    visit = event.visit
    if visit.linked:
        return ()  # tracks of a linked visit are in the IDENTITY stream, by visit id
    # An unlinked visit is one track, keyed "<camera>/<track id>" (camera ids are slugs:
    # no "/" in them).
    camera_id, _, track = visit.visit_id.rpartition("/")
    uid = uid_of(camera_id, int(track)) if track.isdigit() else None
    return () if uid is None else (uid,)


def to_wire(event: EngineEvent, store_id: str, uid_of: TrackUidLookup) -> AnalyticsEvent:
    """The schema event for one engine event."""
    common = {"store_id": store_id, "occurred_at": event.at, "config_version": event.config_version}
    match event:
        case ZoneEntered():
            return ZoneEnteredEvent(
                **common,
                camera_id=event.camera_id,
                track_id=event.track_id,
                track_uid=uid_of(event.camera_id, event.track_id),
                visit_id=event.visit_id,
                zone_id=event.zone_id,
                entered_at=event.entered_at,
            )
        case ZoneExited():
            return ZoneExitedEvent(
                **common,
                camera_id=event.camera_id,
                track_id=event.track_id,
                track_uid=uid_of(event.camera_id, event.track_id),
                visit_id=event.visit_id,
                zone_id=event.zone_id,
                entered_at=event.entered_at,
                exited_at=event.exited_at,
                dwell_s=event.dwell_s,
                reason=event.reason,
            )
        case DwellThresholdExceeded():
            return ZoneDwellExceededEvent(
                **common,
                camera_id=event.camera_id,
                track_id=event.track_id,
                track_uid=uid_of(event.camera_id, event.track_id),
                visit_id=event.visit_id,
                zone_id=event.zone_id,
                entered_at=event.entered_at,
                dwell_s=event.dwell_s,
                threshold_s=event.threshold_s,
            )
        case OccupancyChanged():
            return ZoneOccupancyEvent(
                **common,
                camera_id=event.camera_id,
                zone_id=event.zone_id,
                count=event.count,
                previous=event.previous,
                capacity=event.capacity,
                over_capacity=event.over_capacity,
            )
        case AreaOccupancyChanged():
            return AreaOccupancyEvent(
                **common,
                camera_id=STORE_CAMERA_ID,
                area=event.area,
                count=event.count,
                previous=event.previous,
            )
        case LineCrossed():
            return LineCrossedEvent(
                **common,
                camera_id=event.camera_id,
                track_id=event.track_id,
                track_uid=uid_of(event.camera_id, event.track_id),
                visit_id=event.visit_id,
                line_id=event.line_id,
                direction=event.direction,
                crossed_at=event.crossed_at,
                counts_store_entry=event.counts_store_entry,
            )
        case QueueSnapshot():
            return QueueSnapshotEvent(
                **common,
                camera_id=event.camera_id,
                zone_id=event.zone_id,
                length=event.length,
                median_service_s=event.median_service_s,
                estimated_wait_s=event.estimated_wait_s,
                observed_wait_s=event.observed_wait_s,
                served=event.served,
                abandoned=event.abandoned,
                over_wait_threshold=event.over_wait_threshold,
            )
        case QueueAbandoned():
            return QueueAbandonedEvent(
                **common,
                camera_id=event.camera_id,
                track_id=event.track_id,
                track_uid=uid_of(event.camera_id, event.track_id),
                visit_id=event.visit_id,
                zone_id=event.zone_id,
                left_at=event.left_at,
                waited_s=event.waited_s,
            )
        case HeatmapGrid():
            return HeatmapGridEvent(
                **common,
                camera_id=event.camera_id,
                minute_start=event.minute_start,
                cols=event.cols,
                rows=event.rows,
                samples=event.samples,
                person_seconds=event.person_seconds,
                flow_dx=event.flow_dx,
                flow_dy=event.flow_dy,
                flow_samples=event.flow_samples,
            )
        case VisitEnded():
            visit = event.visit
            cameras = visit.camera_ids
            return VisitEndedEvent(
                **common,
                camera_id=cameras[0] if len(cameras) == 1 else STORE_CAMERA_ID,
                visit_id=visit.visit_id,
                ordinal=visit.ordinal,
                linked=visit.linked,
                customer_id=visit.customer_id,
                camera_ids=cameras,
                track_uids=_visit_track_uids(event, uid_of),
                started_at=visit.started_at,
                entered_at=visit.entered_at,
                ended_at=visit.ended_at,
                end_reason=visit.end_reason,
                duration_s=visit.duration_s,
                path=visit.path,
                stays=tuple(
                    VisitStay(
                        camera_id=stay.camera_id,
                        zone_id=stay.zone_id,
                        zone_kind=stay.zone_kind,
                        area=stay.area,
                        entered_at=stay.entered_at,
                        exited_at=stay.exited_at,
                        dwell_s=stay.dwell_s,
                    )
                    for stay in visit.stays
                ),
                area_dwell=tuple(
                    AreaDwell(area=area, dwell_s=seconds) for area, seconds in visit.area_dwell_s
                ),
                funnel_stages=dict(event.funnel_stages),
            )
    raise TypeError(f"no wire form for engine event {type(event).__name__}")
