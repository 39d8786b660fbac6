"""GraphQL object types, built from database rows or bus events.

Customer ids are `strawberry.Private` on every type and reach a client only through a
resolver that checks the privacy_officer scope (field-level authorization).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import asyncpg
import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, FORBIDDEN, api_error
from gateway.auth import Scope
from trinetra.config.secrets import MASK, mask_source, scrub
from trinetra.events.schema import BoundingBox as SchemaBox
from trinetra.events.schema import (
    CameraStatusEvent,
    Event,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
)
from trinetra.vocabulary import CameraState, TrackEventKind

# The GraphQL enums are the trinetra vocabularies themselves, not copies: a state or kind
# added there reaches the API, and the database CHECKs are tested against the same
# classes. GraphQL values are the member names (LIVE, STARTED, ...).
strawberry.enum(CameraState)
strawberry.enum(TrackEventKind)


@strawberry.type(description="A box in normalized coordinates (0..1 of width and height).")
class Box:
    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def of(cls, box: SchemaBox) -> Box:
        return cls(x1=box.x1, y1=box.y1, x2=box.x2, y2=box.y2)


def _redacted_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored config with the source's credentials masked. Stored configs were
    validated when written (gateway/api/mutation.py), so reading one validates nothing:
    a list of cameras costs what reading their rows costs."""
    if config is None:
        return None
    source = config.get("source")
    return {**config, "source": mask_source(source) if isinstance(source, str) else MASK}


def _status_reason(reason: str | None, config: dict[str, Any] | None) -> str | None:
    """A node's status reason with the camera's secrets removed, should any node (an
    older one, a library's message) have put the source in it."""
    source = None if config is None else config.get("source")
    if reason is None or not isinstance(source, str):
        return reason
    return scrub(reason, source)


# A store node re-reports each camera it runs every status_every_s (15 s by default,
# orchestrator/config/node.py): three missed reports and the camera counts as not running.
RUNNING_WITHIN: Final = timedelta(seconds=45)


def _running(status: str | None, status_at: datetime | None) -> bool:
    return (
        status is not None
        and status != CameraState.STOPPED
        and status_at is not None
        and datetime.now(UTC) - status_at <= RUNNING_WITHIN
    )


@strawberry.type(description="A camera: its registered configuration and live status.")
class Camera:
    id: str
    store_id: str
    registered: bool = strawberry.field(
        description="False for cameras only seen on the bus (no configuration stored)."
    )
    name: str | None
    role: str | None
    config: JSON | None = strawberry.field(
        description="The CameraConfig as stored, its source's credentials masked "
        "(password, secret query and path parameters)."
    )
    registered_at: datetime | None
    updated_at: datetime
    status: CameraState | None
    status_reason: str | None
    status_at: datetime | None
    reconnect_attempt: int
    running: bool = strawberry.field(
        description="True while a store node reports this camera (status within the last "
        "45 s); false for a camera no node runs (disabled, removed, its node down or not "
        "yet started), whatever its last status says."
    )
    registry_pending: bool = strawberry.field(
        default=False,
        description="Mutations only: true when the change is stored but has not reached "
        "the store nodes' camera registry yet (NATS unreachable); the gateway delivers it "
        "once NATS answers (within 30 s of its return). Always false in queries.",
    )

    @classmethod
    def of(cls, row: asyncpg.Record, *, registry_pending: bool = False) -> Camera:
        config = row["config"]
        return cls(
            id=row["camera_id"],
            store_id=row["store_id"],
            registered=config is not None,
            name=None if config is None else config.get("name"),
            role=None if config is None else config.get("role"),
            config=cast(JSON, _redacted_config(config)),
            registered_at=row["registered_at"],
            updated_at=row["updated_at"],
            status=None if row["status"] is None else CameraState(row["status"]),
            status_reason=_status_reason(row["status_reason"], config),
            status_at=row["status_at"],
            reconnect_attempt=row["reconnect_attempt"],
            running=_running(row["status"], row["status_at"]),
            registry_pending=registry_pending,
        )


@strawberry.type
class DetectedPerson:
    box: Box
    score: float
    track_id: int | None


@strawberry.type(description="What the vision pipeline found in one processed frame.")
class Detection:
    id: uuid.UUID
    camera_id: str
    occurred_at: datetime
    frame_seq: int
    frame_width: int
    frame_height: int
    person_count: int
    face_count: int | None
    persons: list[DetectedPerson]

    @classmethod
    def of(cls, row: asyncpg.Record) -> Detection:
        return cls(
            id=row["event_id"],
            camera_id=row["camera_id"],
            occurred_at=row["occurred_at"],
            frame_seq=row["frame_seq"],
            frame_width=row["frame_width"],
            frame_height=row["frame_height"],
            person_count=row["person_count"],
            face_count=row["face_count"],
            persons=[
                DetectedPerson(
                    box=Box(x1=p[0], y1=p[1], x2=p[2], y2=p[3]), score=p[4], track_id=p[5]
                )
                for p in row["persons"]
            ],
        )


@strawberry.type
class PathPoint:
    t: float = strawberry.field(description="Seconds since the track was first seen.")
    x: float
    y: float


@strawberry.type(description="One tracked person on one camera.")
class Track:
    uid: uuid.UUID
    camera_id: str
    track_id: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_box: Box | None
    last_score: float | None
    samples: int = strawberry.field(description="track.started/updated events stored.")
    ended: bool
    ended_at: datetime | None
    end_reason: str | None
    duration_s: float | None
    frames_seen: int | None
    path: list[PathPoint] | None
    path_length: float | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> Track:
        box = row["last_box"]
        path = row["path"]
        return cls(
            uid=row["track_uid"],
            camera_id=row["camera_id"],
            track_id=row["track_id"],
            first_seen_at=row["first_seen_at"],
            last_seen_at=row["last_seen_at"],
            last_box=None if box is None else Box(**box),
            last_score=row["last_score"],
            samples=row["samples"],
            ended=row["ended"],
            ended_at=row["ended_at"],
            end_reason=row["end_reason"],
            duration_s=row["duration_s"],
            frames_seen=row["frames_seen"],
            path=None if path is None else [PathPoint(t=p[0], x=p[1], y=p[2]) for p in path],
            path_length=row["path_length"],
        )


def _customer_reason(reason: str) -> str:
    if len(reason.strip()) < 3:
        raise api_error("reason must say why the customer id is needed", BAD_USER_INPUT)
    return reason.strip()


@strawberry.type(description="An alert raised about a camera (false merge, identity drift).")
class Alert:
    id: uuid.UUID
    kind: str
    severity: str
    camera_id: str
    occurred_at: datetime
    details: JSON
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    customer: strawberry.Private[str | None]

    @decorators.field(
        description="The customer named by the alert: privacy officers only, every read "
        "audited with the reason given."
    )
    async def customer_id(self, info: Info, reason: str) -> str | None:
        info.context.require(Scope.PRIVACY_OFFICER)
        if self.customer is None:
            return None
        await info.context.audit_once(
            "alert.customer_id.read", f"alert:{self.id}", _customer_reason(reason)
        )
        return self.customer

    @classmethod
    def of(cls, row: asyncpg.Record) -> Alert:
        return cls(
            id=row["event_id"],
            kind=row["kind"],
            severity=row["severity"],
            camera_id=row["camera_id"],
            occurred_at=row["occurred_at"],
            details=row["details"],
            acknowledged=row["acknowledged_at"] is not None,
            acknowledged_at=row["acknowledged_at"],
            acknowledged_by=row["acknowledged_by"],
            ack_note=row["ack_note"],
            customer=row["customer_id"],
        )

    @classmethod
    def of_event(cls, event: Event) -> Alert:
        """An alert event as its stored row would show it (any kind stored in `alerts`)."""
        from gateway.ingest.rows import ALERTS, row_for

        table, values = row_for(event)
        assert table is ALERTS
        row = dict(zip(ALERTS.columns, values, strict=True))
        return cls(
            id=event.event_id,
            kind=event.kind,
            severity=row["severity"],
            camera_id=event.camera_id,
            occurred_at=event.occurred_at,
            details=row["details"],
            acknowledged=False,
            acknowledged_at=None,
            acknowledged_by=None,
            ack_note=None,
            customer=row["customer_id"],
        )


@strawberry.type(description="An identity decision about a track.")
class IdentityEvent:
    id: uuid.UUID
    kind: str
    camera_id: str
    occurred_at: datetime
    track_id: int
    track_uid: uuid.UUID | None
    visit_id: uuid.UUID
    confidence: float | None
    reason: str | None
    vip: bool
    erased: bool = strawberry.field(description="The customer was erased since.")
    details: JSON
    customer: strawberry.Private[str | None]

    @decorators.field(description="The resolved customer: privacy officers only.")
    def customer_id(self, info: Info) -> str | None:
        principal = info.context.principal
        if principal is None or not principal.has(Scope.PRIVACY_OFFICER):
            raise api_error("customerId requires scope privacy_officer", FORBIDDEN)
        return self.customer

    @classmethod
    def of(cls, row: asyncpg.Record) -> IdentityEvent:
        return cls(
            id=row["event_id"],
            kind=row["kind"],
            camera_id=row["camera_id"],
            occurred_at=row["occurred_at"],
            track_id=row["track_id"],
            track_uid=row["track_uid"],
            visit_id=row["visit_id"],
            confidence=row["confidence"],
            reason=row["reason"],
            vip=row["vip"],
            erased=row["erased"],
            details=row["details"],
            customer=row["customer_id"],
        )


@strawberry.type(description="One camera's minute: frames analysed and persons seen.")
class OccupancyPoint:
    camera_id: str
    bucket: datetime
    frames: int
    detections: int = strawberry.field(description="Person boxes summed over the frames.")
    avg_persons: float = strawberry.field(description="Mean persons per frame (occupancy).")
    max_persons: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> OccupancyPoint:
        frames = int(row["frames"])
        total = int(row["person_sum"])
        return cls(
            camera_id=row["camera_id"],
            bucket=row["bucket"],
            frames=frames,
            detections=total,
            avg_persons=total / frames if frames else 0.0,
            max_persons=int(row["person_max"]),
        )


@strawberry.type(description="A live track event.")
class TrackEvent:
    id: uuid.UUID
    kind: TrackEventKind
    store_id: str
    camera_id: str
    track_id: int
    track_uid: uuid.UUID
    occurred_at: datetime
    published_at: datetime
    frame_seq: int | None
    box: Box | None
    score: float | None
    duration_s: float | None
    frames_seen: int | None
    end_reason: str | None

    @classmethod
    def of(cls, event: TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent) -> TrackEvent:
        common: dict[str, Any] = {
            "id": event.event_id,
            "kind": TrackEventKind(event.kind),
            "store_id": event.store_id,
            "camera_id": event.camera_id,
            "track_id": event.track_id,
            "track_uid": event.track_uid,
            "occurred_at": event.occurred_at,
            "published_at": event.published_at,
        }
        if isinstance(event, TrackEndedEvent):
            return cls(
                **common,
                frame_seq=None,
                box=None,
                score=None,
                duration_s=event.duration_s,
                frames_seen=event.frames_seen,
                end_reason=event.end_reason,
            )
        return cls(
            **common,
            frame_seq=event.frame_seq,
            box=Box.of(event.box),
            score=event.score,
            duration_s=None,
            frames_seen=None,
            end_reason=None,
        )


@strawberry.type(description="A camera's connection state changed.")
class CameraStatusUpdate:
    store_id: str
    camera_id: str
    state: CameraState
    reason: str | None
    reconnect_attempt: int
    occurred_at: datetime

    @classmethod
    def of(cls, event: CameraStatusEvent) -> CameraStatusUpdate:
        return cls(
            store_id=event.store_id,
            camera_id=event.camera_id,
            state=CameraState(event.state),
            reason=event.reason,
            reconnect_attempt=event.reconnect_attempt,
            occurred_at=event.occurred_at,
        )


@strawberry.type(description="A customer enrolled from a photo.")
class Enrollment:
    customer_id: str
    slot: int
    enrolled_at: datetime
    embeddings: int


@strawberry.type(description="A customer's biometric data and stored ids erased.")
class Erasure:
    customer_id: str
    embeddings_removed: int
    was_active: bool
    tracks_withdrawn: int
    identity_events_redacted: int
    alerts_redacted: int
