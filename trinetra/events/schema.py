"""The versioned event schema: the one contract between every producer and consumer.

Every message on the bus is one JSON object, an *event*: a common envelope plus the fields
of its `kind`. `encode` / `decode` are the only (de)serializers anyone should use, and
`decode` raises `SchemaError` for anything that is not a valid event of a supported
`schema_version`.

Versioning: a change that old consumers cannot read (renamed/removed field, new meaning)
bumps `SCHEMA_VERSION`; adding a new *kind* does not (consumers skip kinds they do not
handle, but must still treat an unknown kind as a `SchemaError` when decoding).

Event ids are deterministic so that a retried publish carries the same id and JetStream's
duplicate window (`Nats-Msg-Id`) drops the copy:

    event_id = uuid5(EVENT_ID_NAMESPACE,
                     "|".join([kind, store_id, camera_id, *identity, occurred_at]))

where `occurred_at` is the UTC ISO-8601 timestamp with microseconds and `identity` is
    detections     -> frame_seq
    track.started  -> track_id
    track.updated  -> track_id, frame_seq
    track.ended    -> track_id
    camera.status  -> state, reconnect_attempt
    identity.resolved     -> track_id, customer_id
    identity.unknown      -> track_id, visit_id
    identity.withdrawn    -> track_id, reason, customer_id ("" when absent)
    alert.false_merge     -> customer_id, and camera/track of both tracks
    alert.identity_drift  -> state
    alert.raised          -> rule_id, dedup_key
    alert.resolved        -> rule_id, dedup_key, raised_event_id
    zone.entered / zone.exited / zone.dwell_exceeded -> zone_id, track_id
    zone.occupancy        -> zone_id, previous, count, config_version
    area.occupancy        -> area, previous, count, config_version
    line.crossed          -> line_id, track_id, direction
    queue.snapshot        -> zone_id, config_version
    queue.abandoned       -> zone_id, track_id
    heatmap.grid          -> minute_start
    visit.ended           -> visit_id, ordinal
Passing `event_id` explicitly overrides the rule (e.g. when re-emitting a stored event).

Subjects (`trinetra.<store>.<camera>.<family>`, families `detections`, `tracks`, `status`,
`identity`, `alerts`, `analytics`) use ids escaped by `subject_token`, which is injective, so two
different camera ids can never share a subject.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence, Sized
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, Protocol, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from trinetra.vocabulary import CameraState, EventKind


class _ArrayLike(Protocol):
    def tolist(self) -> Any: ...


class _PersonsLike(Protocol):
    @property
    def xyxy(self) -> _ArrayLike: ...
    @property
    def confidence(self) -> _ArrayLike: ...
    @property
    def tracker_id(self) -> _ArrayLike | None: ...


class FrameAnalysisLike(Protocol):
    """The parts of `trinetra.inference.detections.FrameAnalysis` an event needs (structural, so
    this module imports neither numpy nor the pipeline)."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def persons(self) -> _PersonsLike: ...
    @property
    def faces(self) -> Sized: ...
    @property
    def model_versions(self) -> Mapping[str, str]: ...


SCHEMA_VERSION: Final = 1
SUPPORTED_SCHEMA_VERSIONS: Final = frozenset({1})

# Fixed namespaces: changing them changes every id, which would break dedup across a
# rolling upgrade, so they are constants, not configuration.
EVENT_ID_NAMESPACE: Final = uuid.UUID("5b0c1a52-7a43-4d43-9f55-3c1d0e2a6b01")
TRACK_UID_NAMESPACE: Final = uuid.UUID("9e7f4c1e-2d8b-4f0a-8a61-6f3b1c0d9e02")

# Rounding keeps per-frame payloads small: 1e-5 of a 4K frame is 0.04 px.
_COORD_DIGITS = 5
_SCORE_DIGITS = 4

MAX_PATH_POINTS: Final = 64


class SchemaError(ValueError):
    """A payload is not a valid TRINETRA event (bad JSON, wrong fields, unknown kind)."""


class UnsupportedSchemaVersionError(SchemaError):
    """A payload declares a `schema_version` this code cannot read."""

    def __init__(self, version: object) -> None:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS))
        super().__init__(f"unsupported schema_version {version!r} (supported: {supported})")
        self.version = version


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _round_coord(value: float) -> float:
    return round(value, _COORD_DIGITS)


def _round_score(value: float) -> float:
    return round(value, _SCORE_DIGITS)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware timestamp, normalized to UTC; naive datetimes are rejected."""

UnitFloat = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Coord = Annotated[UnitFloat, AfterValidator(_round_coord)]
Score = Annotated[UnitFloat, AfterValidator(_round_score)]
Identifier = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoundingBox(_Frozen):
    """A box in normalized coordinates: (0, 0) is the frame's top-left, (1, 1) its
    bottom-right, independent of resolution."""

    x1: Coord = Field(description="Left edge, fraction of frame width.")
    y1: Coord = Field(description="Top edge, fraction of frame height.")
    x2: Coord = Field(description="Right edge, fraction of frame width (>= x1).")
    y2: Coord = Field(description="Bottom edge, fraction of frame height (>= y1).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("box must satisfy x1 <= x2 and y1 <= y2")
        return self

    @classmethod
    def from_pixels(cls, xyxy: Sequence[float], width: int, height: int) -> BoundingBox:
        """Normalize a pixel (x1, y1, x2, y2) box, clipping it to the frame."""
        if width <= 0 or height <= 0:
            raise ValueError("frame size must be positive")
        x1, y1, x2, y2 = (float(v) for v in xyxy)

        def clip(v: float) -> float:
            return min(max(v, 0.0), 1.0)

        return cls(
            x1=clip(x1 / width), y1=clip(y1 / height), x2=clip(x2 / width), y2=clip(y2 / height)
        )


class DetectedPerson(_Frozen):
    """One person box in a processed frame."""

    box: BoundingBox = Field(description="Person box, normalized coordinates.")
    score: Score = Field(description="Detector confidence in [0, 1].")
    track_id: int | None = Field(
        default=None, ge=0, description="Tracker id on this camera, when the frame was tracked."
    )
    track_uid: uuid.UUID | None = Field(
        default=None,
        description="Globally unique id of the track (make_track_uid), when the producer "
        "knew it: what the analytics events carry to join a track to its identity.",
    )


class PathPoint(_Frozen):
    """One sample of a track's path: the bottom-centre of its box (where the feet are),
    which is the point that maps onto the floor plan."""

    t: float = Field(ge=0.0, allow_inf_nan=False, description="Seconds since first_seen_at.")
    x: Coord = Field(description="Horizontal position, fraction of frame width.")
    y: Coord = Field(description="Vertical position, fraction of frame height.")


class _EventBase(_Frozen):
    """The envelope every event carries."""

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION, description="Version of this schema the event follows."
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # JSON `true` would pass as the literal 1 in lax mode.
        if isinstance(value, bool):
            raise ValueError("schema_version must be an integer")
        return value

    event_id: uuid.UUID = Field(
        default=uuid.UUID(int=0),
        description="Unique, deterministic id (see module docs); the JetStream dedup key.",
    )
    kind: str = Field(description="Discriminator: which event this is.")
    camera_id: Identifier = Field(description="Camera that produced the event.")
    store_id: Identifier = Field(description="Store the camera belongs to.")
    occurred_at: UtcDatetime = Field(
        description="Effective time of the event (frame capture time where there is a "
        "frame), UTC. Consumers order and window by this, not by published_at."
    )
    published_at: UtcDatetime = Field(
        default_factory=utc_now,
        description="When the producer handed the event to the bus, UTC.",
    )

    def _identity(self) -> tuple[object, ...]:
        raise NotImplementedError

    @model_validator(mode="after")
    def _derive_event_id(self) -> Self:
        if "event_id" not in self.model_fields_set:
            derived = derive_event_id(
                self.kind, self.store_id, self.camera_id, self._identity(), self.occurred_at
            )
            # Frozen model: set once during validation, never afterwards.
            object.__setattr__(self, "event_id", derived)
            self.model_fields_set.add("event_id")
        return self


class DetectionsEvent(_EventBase):
    """What the vision pipeline found in one processed frame."""

    kind: Literal[EventKind.DETECTIONS] = Field(
        default=EventKind.DETECTIONS, description="Event kind."
    )
    frame_seq: int = Field(
        ge=0, description="Per-camera frame counter; restarts at 0 when the camera restarts."
    )
    frame_width: int = Field(gt=0, description="Width of the analysed frame, pixels.")
    frame_height: int = Field(gt=0, description="Height of the analysed frame, pixels.")
    persons: tuple[DetectedPerson, ...] = Field(
        default=(), description="Person boxes found in the frame."
    )
    face_count: int | None = Field(
        default=None, ge=0, description="Faces found in the frame, when faces were analysed."
    )
    model_versions: dict[str, str] = Field(
        default_factory=dict, description="Model name -> version that produced this frame."
    )
    endpoint: str | None = Field(
        default=None,
        max_length=253,
        description="The Triton endpoint (host:port) that analysed the frame: a fallback "
        "tier's when the primary was degraded or down; None when not known.",
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.frame_seq,)

    @classmethod
    def from_analysis(
        cls,
        analysis: FrameAnalysisLike,
        *,
        camera_id: str,
        store_id: str,
        frame_seq: int,
        occurred_at: datetime,
        include_faces: bool = True,
        track_uids: Mapping[int, uuid.UUID | str] | None = None,
    ) -> DetectionsEvent:
        """Build the event from the pipeline's `FrameAnalysis` (pixel boxes); `track_uids`
        (tracker id -> track uid) fills each tracked person's `track_uid`."""
        persons = analysis.persons
        ids = persons.tracker_id.tolist() if persons.tracker_id is not None else None
        uids = {} if track_uids is None else track_uids

        def uid_of(track_id: int | None) -> uuid.UUID | None:
            uid = None if track_id is None else uids.get(track_id)
            return uid if uid is None or isinstance(uid, uuid.UUID) else uuid.UUID(uid)

        people = tuple(
            DetectedPerson(
                box=BoundingBox.from_pixels(box, analysis.width, analysis.height),
                score=min(max(float(score), 0.0), 1.0),
                track_id=None if ids is None else int(ids[i]),
                track_uid=uid_of(None if ids is None else int(ids[i])),
            )
            for i, (box, score) in enumerate(
                zip(persons.xyxy.tolist(), persons.confidence.tolist(), strict=True)
            )
        )
        return cls(
            camera_id=camera_id,
            store_id=store_id,
            occurred_at=occurred_at,
            frame_seq=frame_seq,
            frame_width=analysis.width,
            frame_height=analysis.height,
            persons=people,
            face_count=len(analysis.faces) if include_faces else None,
            model_versions=dict(analysis.model_versions),
            # Not in FrameAnalysisLike: analyses from before endpoints were named still fit.
            endpoint=getattr(analysis, "endpoint", None),
        )


class _TrackEventBase(_EventBase):
    track_id: int = Field(ge=0, description="Tracker id, unique per camera while alive.")
    track_uid: uuid.UUID = Field(
        description="Globally unique track id (see make_track_uid); tracker ids are reused "
        "after a restart, this is not."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id,)


class TrackStartedEvent(_TrackEventBase):
    """A new track was confirmed on a camera. occurred_at is its first-seen time."""

    kind: Literal[EventKind.TRACK_STARTED] = Field(
        default=EventKind.TRACK_STARTED, description="Event kind."
    )
    frame_seq: int = Field(ge=0, description="Frame in which the track was confirmed.")
    box: BoundingBox = Field(description="Box at confirmation, normalized coordinates.")
    score: Score = Field(description="Detector confidence at confirmation.")


class TrackUpdatedEvent(_TrackEventBase):
    """A sampled position of a live track: published at most once every
    `sample_every_frames` frames per track, so volume does not scale with frame rate."""

    kind: Literal[EventKind.TRACK_UPDATED] = Field(
        default=EventKind.TRACK_UPDATED, description="Event kind."
    )
    frame_seq: int = Field(ge=0, description="Frame this sample comes from.")
    box: BoundingBox = Field(description="Current box, normalized coordinates.")
    score: Score = Field(description="Detector confidence in this frame.")
    sample_every_frames: int = Field(
        ge=1, description="The tracker's sampling interval, so consumers know the resolution."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.frame_seq)


class TrackEndedEvent(_TrackEventBase):
    """A track is finished. occurred_at is when the tracker gave it up (>= last_seen_at):
    lost: the frame at which the tracker dropped it (its buffer after the last sighting);
    camera_stopped / shutdown: the camera's last analysed frame; node_restart: the last
    sighting (the dead run's give-up time is unknown; a repeated restart repeats it)."""

    kind: Literal[EventKind.TRACK_ENDED] = Field(
        default=EventKind.TRACK_ENDED, description="Event kind."
    )
    first_seen_at: UtcDatetime = Field(description="First frame time of the track, UTC.")
    last_seen_at: UtcDatetime = Field(description="Last frame time the track was seen, UTC.")
    duration_s: float = Field(
        ge=0.0, allow_inf_nan=False, description="last_seen_at - first_seen_at, seconds."
    )
    frames_seen: int = Field(ge=1, description="Frames in which the track was matched.")
    path: tuple[PathPoint, ...] = Field(
        default=(),
        max_length=MAX_PATH_POINTS,
        description="Downsampled path (bottom-centre of the box), first and last point kept.",
    )
    path_length: float = Field(
        default=0.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Length of the full path in normalized units (before downsampling).",
    )
    end_reason: Literal["lost", "camera_stopped", "shutdown", "node_restart"] = Field(
        default="lost",
        description="lost: not matched for the tracker's buffer; camera_stopped / shutdown: "
        "closed early, the person may still have been there; node_restart: the store node "
        "died with the track open, and its restart closed it (last_seen_at is the last "
        "sighting that reached the bus).",
    )

    @model_validator(mode="after")
    def _consistent_times(self) -> Self:
        if self.last_seen_at < self.first_seen_at:
            raise ValueError("last_seen_at must not be before first_seen_at")
        span = (self.last_seen_at - self.first_seen_at).total_seconds()
        # Rounded floats in producers: 1 ms tolerance.
        if abs(span - self.duration_s) > 1e-3:
            raise ValueError(f"duration_s {self.duration_s} != last_seen_at - first_seen_at")
        return self


class CameraStatusEvent(_EventBase):
    """A camera's connection state changed."""

    kind: Literal[EventKind.CAMERA_STATUS] = Field(
        default=EventKind.CAMERA_STATUS, description="Event kind."
    )
    state: CameraState = Field(
        description="connecting: opening the stream; live: frames flowing; error: the "
        "stream failed and will be retried; stopped: deliberately stopped."
    )
    reason: str | None = Field(
        default=None, max_length=1000, description="Human-readable cause, for error/stopped."
    )
    reconnect_attempt: int = Field(
        default=0, ge=0, description="Consecutive reconnect attempts; 0 once live."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.state, self.reconnect_attempt)


# --- identity (identity) -------------------------------------------------
# Identity events name a pseudonymous customer id and a random visit id; they never carry
# embeddings, images or anything derived from a face.
#
# Visits: the identity service links the tracks of one person (enrolled or not) across
# cameras and over time into one visit, from their faces, in memory only. Every track that
# shows a usable face gets an identity.resolved or identity.unknown event once its voting
# window fills, naming the visit it was linked into (visit_scope "linked"); a track without
# enough usable faces keeps its own random visit id (visit_scope "track", in the
# identity.unknown at its end). The latest identity event of a (camera, track_id) names its
# visit: an event is emitted again whenever that changes (an ID switch moved the face to
# another tracker id, or a linked track turned out to be someone else's).


class _IdentityTrackEventBase(_EventBase):
    track_id: int = Field(ge=0, description="Tracker id on this camera.")
    track_uid: uuid.UUID | None = Field(
        default=None, description="Globally unique track id (make_track_uid), when known."
    )
    visit_id: uuid.UUID = Field(
        description="Pseudonymous id of the visit this track belongs to: random (uuid4), "
        "never derived from biometrics. Shared by the tracks of one person's visit when "
        "visit_scope is 'linked'; the track's own id when it is 'track'."
    )
    visit_scope: Literal["track", "linked"] = Field(
        default="track",
        description="linked: the visit id comes from face linking (the person's tracks on "
        "every camera share it); track: no usable face linked this track, the visit id is "
        "its own.",
    )


class IdentityResolvedEvent(_IdentityTrackEventBase):
    """A track was accepted as an enrolled customer (after history voting and every gate).
    occurred_at is the time of the observation that completed the vote."""

    kind: Literal[EventKind.IDENTITY_RESOLVED] = Field(
        default=EventKind.IDENTITY_RESOLVED, description="Event kind."
    )
    customer_id: Identifier = Field(description="The enrolled customer (pseudonymous id).")
    confidence: Score = Field(description="Mean match score of the winning votes.")
    votes: int = Field(ge=1, description="Votes for this customer in the voting window.")
    window: int = Field(ge=1, description="Size of the voting window.")
    vip: bool = Field(default=False, description="The customer is flagged VIP.")

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.customer_id)


class IdentityUnknownEvent(_IdentityTrackEventBase):
    """A track could not be accepted as anyone: a visitor known only by `visit_id`.
    Emitted when its first voting window fills without a decision (or it ends before
    filling one); the track may still resolve later. Emitted again when the track is
    contradicted, or when its visit changes (see the section comment)."""

    kind: Literal[EventKind.IDENTITY_UNKNOWN] = Field(
        default=EventKind.IDENTITY_UNKNOWN, description="Event kind."
    )
    reason: Literal[
        "no_match",
        "no_majority",
        "low_confidence",
        "insufficient_observations",
        "contradicted",
        "id_switch",
    ] = Field(
        description="no_match: no vote for anyone; no_majority: votes split; "
        "low_confidence: a majority whose mean score is below the acceptance mean; "
        "insufficient_observations: the track ended before its window filled; "
        "contradicted: the track's faces point to two people, it will not be resolved "
        "(see `contradiction`); id_switch: the tracker moved this person to this track id."
    )
    observations: int = Field(ge=0, description="Face observations of the track so far.")
    best_score: Score | None = Field(
        default=None, description="Best match score seen (clipped to [0, 1]), if any."
    )
    contradiction: Literal["two_candidates", "face_changed"] | None = Field(
        default=None,
        description="With reason contradicted: two_candidates: its faces voted for two "
        "different customers; face_changed: a face far from the track's own, that no other "
        "track explains (e.g. a bystander's face linked to this person).",
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.visit_id)


class IdentityWithdrawnEvent(_IdentityTrackEventBase):
    """A previously resolved identity no longer applies to the track."""

    kind: Literal[EventKind.IDENTITY_WITHDRAWN] = Field(
        default=EventKind.IDENTITY_WITHDRAWN, description="Event kind."
    )
    customer_id: Identifier | None = Field(
        default=None,
        description="The customer withdrawn; None when the customer was erased (their id "
        "is not repeated on the bus).",
    )
    reason: Literal["false_merge", "contradicted", "companion", "erased", "id_switch"] = Field(
        description="false_merge: the identity was on two tracks no one could travel "
        "between; contradicted: the track's faces now point to someone else too; "
        "companion: the track turned out to move with another person and its votes do not "
        "reach the companion threshold; erased: the customer's biometric data was deleted; "
        "id_switch: the tracker swapped ids and the identity followed the face to another "
        "track id (an identity.resolved for that track follows)."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.reason, self.customer_id or "")


class TrackRef(_Frozen):
    """One track named in an alert."""

    camera_id: Identifier = Field(description="Camera of the track.")
    track_id: int = Field(ge=0, description="Tracker id on that camera.")
    track_uid: uuid.UUID | None = Field(default=None, description="Global track id, if known.")
    first_seen_at: UtcDatetime = Field(description="First observation of the track, UTC.")
    last_seen_at: UtcDatetime = Field(description="Latest observation of the track, UTC.")


class FalseMergeAlertEvent(_EventBase):
    """One customer identity was about to hold (or held) two tracks that one person could
    not both be: both assignments are withdrawn. camera_id is the camera of the track that
    triggered the check."""

    kind: Literal[EventKind.ALERT_FALSE_MERGE] = Field(
        default=EventKind.ALERT_FALSE_MERGE, description="Event kind."
    )
    customer_id: Identifier = Field(description="The identity that was merged.")
    tracks: tuple[TrackRef, TrackRef] = Field(description="The two conflicting tracks.")
    min_transit_s: float = Field(
        ge=0.0, allow_inf_nan=False, description="Minimum transit between their cameras."
    )
    gap_s: float = Field(
        allow_inf_nan=False,
        description="Time between the two tracks (negative: they overlapped in time).",
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.customer_id, *(f"{t.camera_id}/{t.track_id}" for t in self.tracks))


class IdentityDriftAlertEvent(_EventBase):
    """The rolling mean match score of a camera fell more than `margin` below the baseline
    (state drifting), or came back (state recovered)."""

    kind: Literal[EventKind.ALERT_IDENTITY_DRIFT] = Field(
        default=EventKind.ALERT_IDENTITY_DRIFT, description="Event kind."
    )
    state: Literal["drifting", "recovered"] = Field(description="Drift state entered.")
    baseline_mean: float = Field(
        ge=-1.0, le=1.0, allow_inf_nan=False, description="Expected mean match score."
    )
    rolling_mean: float = Field(
        ge=-1.0, le=1.0, allow_inf_nan=False, description="Current rolling mean match score."
    )
    margin: float = Field(ge=0.0, allow_inf_nan=False, description="Allowed drop.")
    samples: int = Field(ge=1, description="Scores in the rolling window.")

    def _identity(self) -> tuple[object, ...]:
        return (self.state,)


# Rule alerts (analytics/alerts): the store's alert rules (trinetra.config.alerts) evaluated
# on live analytics, camera status and identity events. An alert's life is two events:
# alert.raised once a rule's condition has held long enough, alert.resolved when it
# clears (or the rule is disabled or removed). At most one alert per (rule, subject) is
# open at a time; `dedup_key` names that pair, and alert.resolved carries the id of the
# alert.raised it closes. occurred_at is the event time of the condition (the frame time
# at which it had held for the rule's duration; the status time plus the delay for a
# camera offline), never the clock of the process that noticed it, so a replay gives the
# same events with the same ids. camera_id is the camera the subject is on (the
# identifying camera of a VIP arrival). A customer id appears only in
# `subject.customer_id`, never in `dedup_key`, `message` or `details`, so that erasure,
# which clears that one field, leaves nothing behind.

AlertRuleKindName = Literal[
    "queue_length",
    "queue_wait",
    "zone_over_capacity",
    "loitering",
    "staff_only_presence",
    "vip_arrival",
    "camera_offline",
    "footfall_anomaly",
]
"""The rule kinds (trinetra.config.alerts.AlertRuleKind lists the same; a test checks)."""
AlertSeverityName = Literal["critical", "warning", "info"]
AlertResolveReason = Literal["cleared", "rule_disabled", "rule_removed", "withdrawn"]
AlertDetail = str | bool | int | Annotated[float, Field(allow_inf_nan=False)] | None
MAX_ALERT_DETAILS: Final = 32


class AlertSubject(_Frozen):
    """What an alert is about: a camera, and a zone, a line or a customer on it."""

    camera_id: Identifier = Field(description="The camera the subject is on.")
    zone_id: Identifier | None = Field(default=None, description="The zone, for zone rules.")
    line_id: Identifier | None = Field(default=None, description="The line, for footfall.")
    customer_id: Identifier | None = Field(
        default=None, description="The customer, for a VIP arrival (pseudonymous id)."
    )


class _RuleAlertEventBase(_EventBase):
    rule_id: Identifier = Field(description="The rule (trinetra.config.alerts) that fired.")
    rule_kind: AlertRuleKindName = Field(description="The rule's kind.")
    rule_name: str = Field(min_length=1, max_length=128, description="The rule's name.")
    severity: AlertSeverityName = Field(description="The rule's severity.")
    dedup_key: str = Field(
        min_length=1,
        max_length=512,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Names the (rule, subject) pair: at most one alert per key is open.",
    )
    subject: AlertSubject = Field(description="What the alert is about.")
    message: str = Field(min_length=1, max_length=1000, description="One human-readable sentence.")
    value: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The measured value (people, seconds, crossings; see `unit`).",
    )
    threshold: float | None = Field(
        default=None, allow_inf_nan=False, description="The rule's threshold, same unit."
    )
    unit: Literal["people", "seconds", "crossings"] | None = Field(
        default=None, description="Unit of value and threshold; None when there is none."
    )
    config_version: int | None = Field(
        default=None,
        ge=1,
        description="Version of the store's analytics configuration the rule came from.",
    )
    details: dict[str, AlertDetail] = Field(
        default_factory=dict,
        max_length=MAX_ALERT_DETAILS,
        description="Rule-specific figures (e.g. a footfall baseline's mean and z-score).",
    )


class AlertRaisedEvent(_RuleAlertEventBase):
    """A rule's condition has held long enough: an alert is open (section comment)."""

    kind: Literal[EventKind.ALERT_RAISED] = Field(
        default=EventKind.ALERT_RAISED, description="Event kind."
    )
    condition_since: UtcDatetime = Field(
        description="When the condition began to hold without a break, UTC (<= occurred_at)."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.rule_id, self.dedup_key)


class AlertResolvedEvent(_RuleAlertEventBase):
    """An open alert closed: its condition cleared, or its rule went away. value is the
    last measured value."""

    kind: Literal[EventKind.ALERT_RESOLVED] = Field(
        default=EventKind.ALERT_RESOLVED, description="Event kind."
    )
    raised_event_id: uuid.UUID = Field(description="event_id of the alert.raised it closes.")
    raised_at: UtcDatetime = Field(description="occurred_at of that alert.raised, UTC.")
    reason: AlertResolveReason = Field(
        description="cleared: the condition no longer holds; rule_disabled / rule_removed: "
        "the rule was disabled or removed from the configuration; withdrawn: the identity "
        "behind a VIP arrival was withdrawn."
    )
    duration_s: float = Field(
        ge=0.0, allow_inf_nan=False, description="occurred_at - raised_at, seconds."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.rule_id, self.dedup_key, self.raised_event_id)


RuleAlertEvent = AlertRaisedEvent | AlertResolvedEvent
RULE_ALERT_EVENT_TYPES: Final = (AlertRaisedEvent, AlertResolvedEvent)


# --- analytics (analytics) ------------------------------------------------------------
# What the analytics service (analytics/service.py) derives from the DETECTIONS stream:
# the engine's events (analytics/engine/events.py) on the wire. Every one names the
# `config_version` of the store's analytics configuration (trinetra.config.analytics)
# that produced it, and `occurred_at` is the frame time of the detections that caused it
# (never the wall clock), so a replay of the same stream gives the same events with the
# same ids. Times that happened before the frame that revealed them (a stay confirmed
# three frames after the person stepped in) are separate, back-dated fields.
#
# camera_id is the camera whose frames produced the event; an event about the whole
# store (area.occupancy, a visit seen by several cameras) carries STORE_CAMERA_ID, which
# no real camera can have (camera ids are slugs that start with a letter or a digit).
#
# Track events carry the camera's `track_id` and, when the store node knew it, the
# global `track_uid` (make_track_uid), which joins them to the IDENTITY stream's
# decisions (`track_uid` -> `visit_id`): cross-camera journeys are built there.

STORE_CAMERA_ID: Final = "_store"
MAX_HEATMAP_CELLS: Final = 128 * 128

_SECONDS_DIGITS = 3  # milliseconds: finer than any frame interval
_RATE_DIGITS = 5  # frame sizes per second, as coordinates


def _round_seconds(value: float) -> float:
    return round(value, _SECONDS_DIGITS)


def _round_rate(value: float) -> float:
    return round(value, _RATE_DIGITS)


Seconds = Annotated[float, Field(ge=0.0, allow_inf_nan=False), AfterValidator(_round_seconds)]
"""A non-negative duration in seconds, rounded to milliseconds."""
Rate = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_round_rate)]
ZoneExitReason = Literal["exited", "track_ended", "timeout", "zone_removed"]
VisitEndReason = Literal["exited", "track_ended", "timeout"]


class _AnalyticsEventBase(_EventBase):
    config_version: int = Field(
        ge=1, description="Version of the store's analytics configuration that produced it."
    )


class _AnalyticsTrackEventBase(_AnalyticsEventBase):
    track_id: int = Field(ge=0, description="Tracker id on this camera.")
    track_uid: uuid.UUID | None = Field(
        default=None,
        description="Globally unique track id (make_track_uid), when the detections carried "
        "it; joins the event to the track's identity decisions.",
    )
    visit_id: Identifier | None = Field(
        default=None, description="The visit id the engine knew for the track, if any."
    )


class ZoneEnteredEvent(_AnalyticsTrackEventBase):
    """A track has been inside a zone for the engine's minimum number of frames (so a foot
    point flickering over the edge does not enter); `entered_at` is the first of them."""

    kind: Literal[EventKind.ZONE_ENTERED] = Field(
        default=EventKind.ZONE_ENTERED, description="Event kind."
    )
    zone_id: Identifier = Field(description="The zone entered.")
    entered_at: UtcDatetime = Field(description="When the stay began (back-dated), UTC.")

    def _identity(self) -> tuple[object, ...]:
        return (self.zone_id, self.track_id)


class ZoneExitedEvent(_AnalyticsTrackEventBase):
    """A stay in a zone ended; `dwell_s` = exited_at - entered_at."""

    kind: Literal[EventKind.ZONE_EXITED] = Field(
        default=EventKind.ZONE_EXITED, description="Event kind."
    )
    zone_id: Identifier = Field(description="The zone left.")
    entered_at: UtcDatetime = Field(description="When the stay began, UTC.")
    exited_at: UtcDatetime = Field(
        description="When it ended (back-dated to the first frame outside, or the track's "
        "last sighting when it ended inside), UTC."
    )
    dwell_s: Seconds = Field(description="Length of the stay, seconds.")
    reason: ZoneExitReason = Field(
        description="exited: walked out; track_ended / timeout: the track ended or was not "
        "seen for the engine's timeout while inside (closed at its last sighting); "
        "zone_removed: a configuration change removed the zone."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.zone_id, self.track_id)


class ZoneDwellExceededEvent(_AnalyticsTrackEventBase):
    """One stay has lasted the zone's dwell threshold (once per stay)."""

    kind: Literal[EventKind.ZONE_DWELL_EXCEEDED] = Field(
        default=EventKind.ZONE_DWELL_EXCEEDED, description="Event kind."
    )
    zone_id: Identifier = Field(description="The zone.")
    entered_at: UtcDatetime = Field(description="When the stay began, UTC.")
    dwell_s: Seconds = Field(description="Length of the stay so far, seconds.")
    threshold_s: Seconds = Field(description="The zone's dwell threshold, seconds.")

    def _identity(self) -> tuple[object, ...]:
        return (self.zone_id, self.track_id)


class ZoneOccupancyEvent(_AnalyticsEventBase):
    """The number of tracks inside a zone changed (at most once per zone per frame)."""

    kind: Literal[EventKind.ZONE_OCCUPANCY] = Field(
        default=EventKind.ZONE_OCCUPANCY, description="Event kind."
    )
    zone_id: Identifier = Field(description="The zone.")
    count: int = Field(ge=0, description="Tracks inside now.")
    previous: int = Field(ge=0, description="Tracks inside before this change.")
    capacity: int | None = Field(default=None, ge=1, description="The zone's capacity, if set.")
    over_capacity: bool = Field(description="count > capacity.")

    def _identity(self) -> tuple[object, ...]:
        # A configuration change can move a zone's count again at the same frame time.
        return (self.zone_id, self.previous, self.count, self.config_version)


class AreaOccupancyEvent(_AnalyticsEventBase):
    """Occupancy of a physical area seen by several cameras: the largest of its zones'
    counts (the same people seen twice count once). camera_id is STORE_CAMERA_ID."""

    kind: Literal[EventKind.AREA_OCCUPANCY] = Field(
        default=EventKind.AREA_OCCUPANCY, description="Event kind."
    )
    area: Identifier = Field(description="The physical area (zones' `physical_area`).")
    count: int = Field(ge=0, description="People in the area now.")
    previous: int = Field(ge=0, description="People in it before this change.")

    def _identity(self) -> tuple[object, ...]:
        return (self.area, self.previous, self.count, self.config_version)


class LineCrossedEvent(_AnalyticsTrackEventBase):
    """A track crossed a counting line (once per crossing: a dead band and a minimum of
    frames on the new side keep jitter from counting)."""

    kind: Literal[EventKind.LINE_CROSSED] = Field(
        default=EventKind.LINE_CROSSED, description="Event kind."
    )
    line_id: Identifier = Field(description="The line crossed.")
    direction: Literal["in", "out"] = Field(description="in: onto the line's in-side; out: off it.")
    crossed_at: UtcDatetime = Field(
        description="When the foot point crossed (interpolated between the frames either "
        "side of the line), UTC."
    )
    counts_store_entry: bool = Field(description="The line counts store entries and exits.")

    def _identity(self) -> tuple[object, ...]:
        return (self.line_id, self.track_id, self.direction)


class QueueSnapshotEvent(_AnalyticsEventBase):
    """A queue zone's state, once per snapshot interval of frame time."""

    kind: Literal[EventKind.QUEUE_SNAPSHOT] = Field(
        default=EventKind.QUEUE_SNAPSHOT, description="Event kind."
    )
    zone_id: Identifier = Field(description="The queue zone.")
    length: int = Field(ge=0, description="People in the queue now.")
    median_service_s: Seconds | None = Field(
        default=None, description="Median time per served customer, None until one is seen."
    )
    estimated_wait_s: Seconds | None = Field(
        default=None, description="length x median_service_s, None until a service is seen."
    )
    observed_wait_s: Seconds | None = Field(
        default=None, description="Median wait of the people recently served, if any."
    )
    served: int = Field(ge=0, description="Departures into a checkout within the window.")
    abandoned: int = Field(ge=0, description="Departures without one within the window.")
    over_wait_threshold: bool = Field(
        description="estimated_wait_s is above the zone's wait threshold."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.zone_id, self.config_version)


class QueueAbandonedEvent(_AnalyticsTrackEventBase):
    """Someone left a queue and did not reach one of its checkouts in time."""

    kind: Literal[EventKind.QUEUE_ABANDONED] = Field(
        default=EventKind.QUEUE_ABANDONED, description="Event kind."
    )
    zone_id: Identifier = Field(description="The queue zone.")
    left_at: UtcDatetime = Field(description="When they left the queue, UTC.")
    waited_s: Seconds = Field(description="How long they had been in it, seconds.")

    def _identity(self) -> tuple[object, ...]:
        return (self.zone_id, self.track_id)


class HeatmapGridEvent(_AnalyticsEventBase):
    """One camera's floor usage over one minute of frame time, row-major rows x cols (see
    analytics.engine.events.HeatmapGrid for what each array measures)."""

    kind: Literal[EventKind.HEATMAP_GRID] = Field(
        default=EventKind.HEATMAP_GRID, description="Event kind."
    )
    minute_start: UtcDatetime = Field(description="Start of the minute, UTC.")
    cols: int = Field(ge=1, le=1024, description="Grid columns.")
    rows: int = Field(ge=1, le=1024, description="Grid rows.")
    samples: tuple[int, ...] = Field(description="Foot points per cell.")
    person_seconds: tuple[Seconds, ...] = Field(
        description="Foot points per cell weighted by the frame interval, seconds."
    )
    flow_dx: tuple[Rate, ...] = Field(
        description="Mean horizontal foot-point velocity per cell, frame widths per second."
    )
    flow_dy: tuple[Rate, ...] = Field(
        description="Mean vertical foot-point velocity per cell, frame heights per second."
    )
    flow_samples: tuple[int, ...] = Field(description="Velocities averaged per cell.")

    @model_validator(mode="after")
    def _grid_shape(self) -> Self:
        cells = self.cols * self.rows
        if cells > MAX_HEATMAP_CELLS:
            raise ValueError(f"a heatmap has at most {MAX_HEATMAP_CELLS} cells, got {cells}")
        for name in ("samples", "person_seconds", "flow_dx", "flow_dy", "flow_samples"):
            if len(getattr(self, name)) != cells:
                raise ValueError(f"{name} must have cols x rows = {cells} values")
        return self

    def _identity(self) -> tuple[object, ...]:
        return (self.minute_start.isoformat(),)


class VisitStay(_Frozen):
    """One zone stay inside a visit."""

    camera_id: Identifier = Field(description="Camera of the zone.")
    zone_id: Identifier = Field(description="The zone.")
    zone_kind: Identifier = Field(description="The zone's kind (area, queue, checkout, ...).")
    area: Identifier = Field(description="The zone's physical area, or its id.")
    entered_at: UtcDatetime = Field(description="When the stay began, UTC.")
    exited_at: UtcDatetime = Field(description="When it ended, UTC.")
    dwell_s: Seconds = Field(description="Length of the stay, seconds.")


class AreaDwell(_Frozen):
    """Time a visit spent in one area (overlapping stays on two cameras counted once)."""

    area: Identifier = Field(description="The area (physical area, or zone id).")
    dwell_s: Seconds = Field(description="Union of the visit's stays in it, seconds.")


class VisitEndedEvent(_AnalyticsEventBase):
    """A completed visit: entry (if seen) to exit, the zones visited in order. Reported
    only for visits that entered the store or stayed in a zone. camera_id is the visit's
    camera, or STORE_CAMERA_ID for a visit seen by several cameras."""

    kind: Literal[EventKind.VISIT_ENDED] = Field(
        default=EventKind.VISIT_ENDED, description="Event kind."
    )
    visit_id: Identifier = Field(
        description="The identity service's visit id when linked, else '<camera>/<track>'."
    )
    ordinal: int = Field(ge=1, description="Visits under the same id so far (comebacks).")
    linked: bool = Field(description="The visit was joined across tracks by a visit id.")
    customer_id: Identifier | None = Field(
        default=None, description="The enrolled customer, when identity resolved one."
    )
    camera_ids: tuple[Identifier, ...] = Field(
        min_length=1, description="Cameras that saw the visit, in order of first sighting."
    )
    track_uids: tuple[uuid.UUID, ...] = Field(
        default=(), description="Global ids of the visit's tracks, where known."
    )
    started_at: UtcDatetime = Field(description="First sighting, UTC.")
    entered_at: UtcDatetime | None = Field(
        default=None, description="Store-entry line crossed in, UTC; None if never seen."
    )
    ended_at: UtcDatetime = Field(description="End of the visit, UTC.")
    end_reason: VisitEndReason = Field(
        description="exited: crossed a store-entry line out; track_ended: its (only) track "
        "ended; timeout: a linked visit's tracks all ended and none came back in time."
    )
    duration_s: Seconds = Field(description="From entry (or first sighting) to end, seconds.")
    path: tuple[Identifier, ...] = Field(
        default=(), description="Areas entered, in order, consecutive repeats removed."
    )
    stays: tuple[VisitStay, ...] = Field(default=(), description="Zone stays, in order.")
    area_dwell: tuple[AreaDwell, ...] = Field(default=(), description="Dwell per area.")
    funnel_stages: dict[str, int] = Field(
        default_factory=dict,
        description="Funnel id -> stages of it the visit reached (0: not even the first).",
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.visit_id, self.ordinal)


AnalyticsEvent = (
    ZoneEnteredEvent
    | ZoneExitedEvent
    | ZoneDwellExceededEvent
    | ZoneOccupancyEvent
    | AreaOccupancyEvent
    | LineCrossedEvent
    | QueueSnapshotEvent
    | QueueAbandonedEvent
    | HeatmapGridEvent
    | VisitEndedEvent
)
ANALYTICS_EVENT_TYPES: Final = (
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneDwellExceededEvent,
    ZoneOccupancyEvent,
    AreaOccupancyEvent,
    LineCrossedEvent,
    QueueSnapshotEvent,
    QueueAbandonedEvent,
    HeatmapGridEvent,
    VisitEndedEvent,
)


IdentityEvent = IdentityResolvedEvent | IdentityUnknownEvent | IdentityWithdrawnEvent
AlertEvent = FalseMergeAlertEvent | IdentityDriftAlertEvent | AlertRaisedEvent | AlertResolvedEvent


TrackEvent = TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent
Event = Annotated[
    DetectionsEvent
    | TrackStartedEvent
    | TrackUpdatedEvent
    | TrackEndedEvent
    | CameraStatusEvent
    | IdentityResolvedEvent
    | IdentityUnknownEvent
    | IdentityWithdrawnEvent
    | FalseMergeAlertEvent
    | IdentityDriftAlertEvent
    | AlertRaisedEvent
    | AlertResolvedEvent
    | ZoneEnteredEvent
    | ZoneExitedEvent
    | ZoneDwellExceededEvent
    | ZoneOccupancyEvent
    | AreaOccupancyEvent
    | LineCrossedEvent
    | QueueSnapshotEvent
    | QueueAbandonedEvent
    | HeatmapGridEvent
    | VisitEndedEvent,
    Field(discriminator="kind"),
]
EVENT_TYPES: Final = (
    DetectionsEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    TrackEndedEvent,
    CameraStatusEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    IdentityWithdrawnEvent,
    FalseMergeAlertEvent,
    IdentityDriftAlertEvent,
    *RULE_ALERT_EVENT_TYPES,
    *ANALYTICS_EVENT_TYPES,
)

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def derive_event_id(
    kind: str,
    store_id: str,
    camera_id: str,
    identity: Sequence[object],
    occurred_at: datetime,
) -> uuid.UUID:
    """The deterministic event id rule (module docs)."""
    stamp = occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    parts = [kind, store_id, camera_id, *(str(p) for p in identity), stamp]
    return uuid.uuid5(EVENT_ID_NAMESPACE, "|".join(parts))


def make_track_uid(
    store_id: str, camera_id: str, track_id: int, first_seen_at: datetime
) -> uuid.UUID:
    """Globally unique id of one track: the tracker's id plus when it was first seen."""
    stamp = first_seen_at.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid.uuid5(TRACK_UID_NAMESPACE, f"{store_id}|{camera_id}|{track_id}|{stamp}")


def summarize_path(
    points: Sequence[PathPoint], max_points: int = MAX_PATH_POINTS
) -> tuple[PathPoint, ...]:
    """Evenly downsample a path to at most `max_points`, always keeping first and last."""
    if max_points < 2:
        raise ValueError("max_points must be >= 2")
    n = len(points)
    if n <= max_points:
        return tuple(points)
    step = (n - 1) / (max_points - 1)
    return tuple(points[round(i * step)] for i in range(max_points))


def path_length(points: Sequence[PathPoint]) -> float:
    """Sum of distances between consecutive points, normalized units."""
    return math.fsum(math.hypot(b.x - a.x, b.y - a.y) for a, b in itertools.pairwise(points))


def encode(event: Event) -> bytes:
    """Serialize an event to its wire form (UTF-8 JSON)."""
    if not isinstance(event, EVENT_TYPES):
        raise TypeError(f"not an event: {type(event).__name__}")
    return event.model_dump_json().encode()


def decode(payload: bytes | bytearray | memoryview | str) -> Event:
    """Parse and validate a wire payload; raises `SchemaError` (or its subclass
    `UnsupportedSchemaVersionError`) for anything that is not a valid event."""
    data = bytes(payload) if isinstance(payload, memoryview) else payload
    # Fast path: one pass in pydantic-core. Only a refused payload is parsed again, to
    # explain the refusal (version first, so a newer producer gets a clear error rather
    # than a list of field differences).
    try:
        return _EVENT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        failure = exc
    try:
        raw: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise SchemaError("payload must be a JSON object")
    if "schema_version" not in raw:
        raise SchemaError("payload has no schema_version")
    version = raw["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise SchemaError(f"schema_version must be an integer, got {version!r}")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UnsupportedSchemaVersionError(version)
    kind = raw.get("kind")
    if kind is not None and kind not in _KINDS:
        raise SchemaError(f"unknown event kind {kind!r}")
    raise SchemaError(f"invalid {kind or 'event'} payload: {failure}") from failure


_KINDS: Final = frozenset(t.model_fields["kind"].default for t in EVENT_TYPES)


# --- subjects -------------------------------------------------------------------------

SUBJECT_ROOT: Final = "trinetra"
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]")

DETECTIONS_FAMILY: Final = "detections"
TRACKS_FAMILY: Final = "tracks"
STATUS_FAMILY: Final = "status"
IDENTITY_FAMILY: Final = "identity"
ALERTS_FAMILY: Final = "alerts"
ANALYTICS_FAMILY: Final = "analytics"

# Wildcards a stream or a consumer subscribes to: trinetra.<store>.<camera>.<family>
DETECTIONS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{DETECTIONS_FAMILY}"
TRACKS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{TRACKS_FAMILY}"
STATUS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{STATUS_FAMILY}"
IDENTITY_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{IDENTITY_FAMILY}"
ALERTS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{ALERTS_FAMILY}"
ANALYTICS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{ANALYTICS_FAMILY}"

_FAMILY_BY_KIND: Final[dict[str, str]] = {
    "detections": DETECTIONS_FAMILY,
    "track.started": TRACKS_FAMILY,
    "track.updated": TRACKS_FAMILY,
    "track.ended": TRACKS_FAMILY,
    "camera.status": STATUS_FAMILY,
    "identity.resolved": IDENTITY_FAMILY,
    "identity.unknown": IDENTITY_FAMILY,
    "identity.withdrawn": IDENTITY_FAMILY,
    "alert.false_merge": ALERTS_FAMILY,
    "alert.identity_drift": ALERTS_FAMILY,
    "alert.raised": ALERTS_FAMILY,
    "alert.resolved": ALERTS_FAMILY,
    **{t.model_fields["kind"].default: ANALYTICS_FAMILY for t in ANALYTICS_EVENT_TYPES},
}


def subject_token(identifier: str) -> str:
    """Escape an id into one NATS subject token (also a valid KV key).

    `[A-Za-z0-9_-]` pass through; every other UTF-8 byte becomes `=XX` (so `=` itself is
    `=3D`). The escape is injective, so distinct ids never collide, and `.`, `*`, `>` and
    whitespace, which would change a subject's meaning, cannot survive.
    """
    if not identifier:
        raise ValueError("identifier must not be empty")
    out: list[str] = []
    for char in identifier:
        if _SAFE_TOKEN.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"={byte:02X}" for byte in char.encode())
    return "".join(out)


def _subject(store_id: str, camera_id: str, family: str) -> str:
    return f"{SUBJECT_ROOT}.{subject_token(store_id)}.{subject_token(camera_id)}.{family}"


def detections_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.detections`: per-frame `detections` events."""
    return _subject(store_id, camera_id, DETECTIONS_FAMILY)


def tracks_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.tracks`: `track.started/updated/ended` events, one subject
    per camera so a consumer sees one camera's track lifecycle in order."""
    return _subject(store_id, camera_id, TRACKS_FAMILY)


def status_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.status`: `camera.status` events."""
    return _subject(store_id, camera_id, STATUS_FAMILY)


def identity_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.identity`: `identity.*` events of the camera's tracks."""
    return _subject(store_id, camera_id, IDENTITY_FAMILY)


def alerts_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.alerts`: `alert.*` events raised about the camera."""
    return _subject(store_id, camera_id, ALERTS_FAMILY)


def analytics_subject(store_id: str, camera_id: str) -> str:
    """`trinetra.<store>.<camera>.analytics`: the analytics service's events about a camera
    (camera STORE_CAMERA_ID, `trinetra.<store>._store.analytics`, for the whole store)."""
    return _subject(store_id, camera_id, ANALYTICS_FAMILY)


def subject_for(event: Event) -> str:
    """The subject an event is published on."""
    return _subject(event.store_id, event.camera_id, _FAMILY_BY_KIND[event.kind])
