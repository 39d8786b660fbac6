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
Passing `event_id` explicitly overrides the rule (e.g. when re-emitting a stored event).

Subjects (`trinetra.<store>.<camera>.<family>`, families `detections`, `tracks`, `status`,
`identity`, `alerts`) use ids escaped by `subject_token`, which is injective, so two
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

    kind: Literal["detections"] = Field(default="detections", description="Event kind.")
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
    ) -> DetectionsEvent:
        """Build the event from the pipeline's `FrameAnalysis` (pixel boxes)."""
        persons = analysis.persons
        ids = persons.tracker_id.tolist() if persons.tracker_id is not None else None
        people = tuple(
            DetectedPerson(
                box=BoundingBox.from_pixels(box, analysis.width, analysis.height),
                score=min(max(float(score), 0.0), 1.0),
                track_id=None if ids is None else int(ids[i]),
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

    kind: Literal["track.started"] = Field(default="track.started", description="Event kind.")
    frame_seq: int = Field(ge=0, description="Frame in which the track was confirmed.")
    box: BoundingBox = Field(description="Box at confirmation, normalized coordinates.")
    score: Score = Field(description="Detector confidence at confirmation.")


class TrackUpdatedEvent(_TrackEventBase):
    """A sampled position of a live track: published at most once every
    `sample_every_frames` frames per track, so volume does not scale with frame rate."""

    kind: Literal["track.updated"] = Field(default="track.updated", description="Event kind.")
    frame_seq: int = Field(ge=0, description="Frame this sample comes from.")
    box: BoundingBox = Field(description="Current box, normalized coordinates.")
    score: Score = Field(description="Detector confidence in this frame.")
    sample_every_frames: int = Field(
        ge=1, description="The tracker's sampling interval, so consumers know the resolution."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.frame_seq)


class TrackEndedEvent(_TrackEventBase):
    """A track is finished. occurred_at is when the tracker gave it up (>= last_seen_at)."""

    kind: Literal["track.ended"] = Field(default="track.ended", description="Event kind.")
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
    end_reason: Literal["lost", "camera_stopped", "shutdown"] = Field(
        default="lost",
        description="lost: not matched for the tracker's buffer; camera_stopped / shutdown: "
        "closed early, the person may still have been there.",
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

    kind: Literal["camera.status"] = Field(default="camera.status", description="Event kind.")
    state: Literal["connecting", "live", "error", "stopped"] = Field(
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


class _IdentityTrackEventBase(_EventBase):
    track_id: int = Field(ge=0, description="Tracker id on this camera.")
    track_uid: uuid.UUID | None = Field(
        default=None, description="Globally unique track id (make_track_uid), when known."
    )
    visit_id: uuid.UUID = Field(
        description="Pseudonymous id of this track's visit: random (uuid4), never derived "
        "from biometrics; the same for every identity event of the track."
    )


class IdentityResolvedEvent(_IdentityTrackEventBase):
    """A track was accepted as an enrolled customer (after history voting and every gate).
    occurred_at is the time of the observation that completed the vote."""

    kind: Literal["identity.resolved"] = Field(
        default="identity.resolved", description="Event kind."
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
    Emitted once per track, when its first voting window fills without a decision (or it
    ends before filling one); the track may still resolve later."""

    kind: Literal["identity.unknown"] = Field(default="identity.unknown", description="Event kind.")
    reason: Literal["no_match", "no_majority", "low_confidence", "insufficient_observations"] = (
        Field(
            description="no_match: no vote for anyone; no_majority: votes split; "
            "low_confidence: a majority whose mean score is below the acceptance mean; "
            "insufficient_observations: the track ended before its window filled."
        )
    )
    observations: int = Field(ge=0, description="Face observations of the track so far.")
    best_score: Score | None = Field(
        default=None, description="Best match score seen (clipped to [0, 1]), if any."
    )

    def _identity(self) -> tuple[object, ...]:
        return (self.track_id, self.visit_id)


class IdentityWithdrawnEvent(_IdentityTrackEventBase):
    """A previously resolved identity no longer applies to the track."""

    kind: Literal["identity.withdrawn"] = Field(
        default="identity.withdrawn", description="Event kind."
    )
    customer_id: Identifier | None = Field(
        default=None,
        description="The customer withdrawn; None when the customer was erased (their id "
        "is not repeated on the bus).",
    )
    reason: Literal["false_merge", "contradicted", "companion", "erased"] = Field(
        description="false_merge: the identity was on two tracks no one could travel "
        "between; contradicted: the track's votes now favour someone else; companion: the "
        "track turned out to move with another person and its votes do not reach the "
        "companion threshold; erased: the customer's biometric data was deleted."
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

    kind: Literal["alert.false_merge"] = Field(
        default="alert.false_merge", description="Event kind."
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

    kind: Literal["alert.identity_drift"] = Field(
        default="alert.identity_drift", description="Event kind."
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


IdentityEvent = IdentityResolvedEvent | IdentityUnknownEvent | IdentityWithdrawnEvent
AlertEvent = FalseMergeAlertEvent | IdentityDriftAlertEvent


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
    | IdentityDriftAlertEvent,
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
)
EventKind = Literal[
    "detections",
    "track.started",
    "track.updated",
    "track.ended",
    "camera.status",
    "identity.resolved",
    "identity.unknown",
    "identity.withdrawn",
    "alert.false_merge",
    "alert.identity_drift",
]

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

# Wildcards a stream or a consumer subscribes to: trinetra.<store>.<camera>.<family>
DETECTIONS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{DETECTIONS_FAMILY}"
TRACKS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{TRACKS_FAMILY}"
STATUS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{STATUS_FAMILY}"
IDENTITY_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{IDENTITY_FAMILY}"
ALERTS_SUBJECTS: Final = f"{SUBJECT_ROOT}.*.*.{ALERTS_FAMILY}"

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


def subject_for(event: Event) -> str:
    """The subject an event is published on."""
    return _subject(event.store_id, event.camera_id, _FAMILY_BY_KIND[event.kind])
