"""The event schema: round trips, deterministic ids, and everything decode must refuse."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from trinetra.events.schema import (
    ANALYTICS_EVENT_TYPES,
    ANALYTICS_SUBJECTS,
    MAX_PATH_POINTS,
    STORE_CAMERA_ID,
    AreaDwell,
    AreaOccupancyEvent,
    BoundingBox,
    CameraStatusEvent,
    DetectedPerson,
    DetectionsEvent,
    Event,
    HeatmapGridEvent,
    LineCrossedEvent,
    PathPoint,
    QueueAbandonedEvent,
    QueueSnapshotEvent,
    SchemaError,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    UnsupportedSchemaVersionError,
    VisitEndedEvent,
    VisitStay,
    ZoneDwellExceededEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
    analytics_subject,
    decode,
    detections_subject,
    encode,
    make_track_uid,
    path_length,
    status_subject,
    subject_for,
    subject_token,
    summarize_path,
    tracks_subject,
)

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
STORE = "blr-01"
CAMERA = "cam_entrance"


def _box(x1: float = 0.1, y1: float = 0.2, x2: float = 0.3, y2: float = 0.6) -> BoundingBox:
    return BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2)


def _uid(track_id: int = 7) -> uuid.UUID:
    return make_track_uid(STORE, CAMERA, track_id, T0)


def all_kinds() -> list[Event]:
    common: dict[str, Any] = {"camera_id": CAMERA, "store_id": STORE}
    path = (PathPoint(t=0.0, x=0.2, y=0.6), PathPoint(t=1.5, x=0.5, y=0.7))
    return [
        DetectionsEvent(
            **common,
            occurred_at=T0,
            frame_seq=12,
            frame_width=1920,
            frame_height=1080,
            persons=(DetectedPerson(box=_box(), score=0.91, track_id=7),),
            face_count=1,
            model_versions={"person_detector": "1"},
        ),
        TrackStartedEvent(
            **common,
            occurred_at=T0,
            track_id=7,
            track_uid=_uid(),
            frame_seq=12,
            box=_box(),
            score=0.9,
        ),
        TrackUpdatedEvent(
            **common,
            occurred_at=T0 + timedelta(seconds=1),
            track_id=7,
            track_uid=_uid(),
            frame_seq=27,
            box=_box(0.2, x2=0.4),
            score=0.8,
            sample_every_frames=15,
        ),
        TrackEndedEvent(
            **common,
            occurred_at=T0 + timedelta(seconds=3),
            track_id=7,
            track_uid=_uid(),
            first_seen_at=T0,
            last_seen_at=T0 + timedelta(seconds=1.5),
            duration_s=1.5,
            frames_seen=23,
            path=path,
            path_length=path_length(path),
        ),
        CameraStatusEvent(
            **common, occurred_at=T0, state="error", reason="EOF", reconnect_attempt=3
        ),
    ]


@pytest.mark.parametrize("event", all_kinds(), ids=lambda e: e.kind)
def test_every_kind_round_trips(event: Event) -> None:
    payload = encode(event)
    decoded = decode(payload)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decoded.event_id == event.event_id
    assert json.loads(payload)["kind"] == event.kind
    assert json.loads(payload)["schema_version"] == 1


def test_event_id_is_deterministic_per_identity() -> None:
    def frame(seq: int, at: datetime = T0) -> DetectionsEvent:
        return DetectionsEvent(
            camera_id=CAMERA,
            store_id=STORE,
            occurred_at=at,
            frame_seq=seq,
            frame_width=640,
            frame_height=480,
        )

    # A retry builds the event again (new published_at): same id, so JetStream dedupes.
    assert frame(1).event_id == frame(1).event_id
    assert frame(1).published_at <= frame(1).published_at
    assert frame(1).event_id != frame(2).event_id
    # Same frame number after a camera restart is a different frame.
    assert frame(1).event_id != frame(1, T0 + timedelta(minutes=5)).event_id
    # The same instant in another zone is the same instant.
    ist = timezone(timedelta(hours=5, minutes=30))
    assert frame(1).event_id == frame(1, T0.astimezone(ist)).event_id
    explicit = uuid.uuid4()
    assert (
        DetectionsEvent(
            event_id=explicit,
            camera_id=CAMERA,
            store_id=STORE,
            occurred_at=T0,
            frame_seq=1,
            frame_width=640,
            frame_height=480,
        ).event_id
        == explicit
    )


def test_track_event_ids_differ_by_kind_and_sample() -> None:
    events = all_kinds()
    ids = {e.event_id for e in events}
    assert len(ids) == len(events)
    updated = events[2]
    assert isinstance(updated, TrackUpdatedEvent)
    later = updated.model_copy(update={"frame_seq": 42})
    assert TrackUpdatedEvent.model_validate(later.model_dump(exclude={"event_id"})).event_id != (
        updated.event_id
    )


def test_timestamps_are_utc_and_naive_is_rejected() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    event = CameraStatusEvent(
        camera_id=CAMERA, store_id=STORE, occurred_at=T0.astimezone(ist), state="live"
    )
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.occurred_at == T0
    assert json.loads(encode(event))["occurred_at"].endswith("Z")
    with pytest.raises(ValidationError):
        CameraStatusEvent(
            camera_id=CAMERA, store_id=STORE, occurred_at=datetime(2026, 1, 1), state="live"
        )


def test_events_are_frozen() -> None:
    event = all_kinds()[0]
    with pytest.raises(ValidationError):
        setattr(event, "camera_id", "other")  # noqa: B010 (mypy knows it is read-only)


def _payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(encode(all_kinds()[4]))
    body.update(changes)
    return body


@pytest.mark.parametrize("version", [0, 2, 99])
def test_decode_rejects_unknown_schema_version(version: int) -> None:
    with pytest.raises(UnsupportedSchemaVersionError, match="unsupported schema_version"):
        decode(json.dumps(_payload(schema_version=version)).encode())


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"kind": "camera.status"}).encode(), "no schema_version"),
        (json.dumps(_payload(schema_version="1")).encode(), "must be an integer"),
        (json.dumps(_payload(schema_version=True)).encode(), "must be an integer"),
        (json.dumps(_payload(kind="track.exploded")).encode(), "unknown event kind"),
        (json.dumps(_payload(state="on_fire")).encode(), "invalid camera.status"),
        (json.dumps(_payload(surprise=1)).encode(), "invalid camera.status"),
        (json.dumps(_payload(occurred_at="2026-01-01T00:00:00")).encode(), "invalid"),
        (json.dumps({k: v for k, v in _payload().items() if k != "kind"}).encode(), "invalid"),
    ],
    ids=[
        "bad-json",
        "bad-utf8",
        "not-object",
        "no-version",
        "string-version",
        "bool-version",
        "unknown-kind",
        "bad-enum",
        "extra-field",
        "naive-time",
        "missing-kind",
    ],
)
def test_decode_rejects_malformed(payload: bytes, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        decode(payload)


def test_decode_rejects_fields_of_another_kind() -> None:
    # A status payload relabelled as detections lacks detections' fields and has extras.
    with pytest.raises(SchemaError, match="invalid detections"):
        decode(json.dumps(_payload(kind="detections")).encode())


@pytest.mark.parametrize(
    "box",
    [
        {"x1": -0.1, "y1": 0.0, "x2": 0.5, "y2": 0.5},
        {"x1": 0.0, "y1": 0.0, "x2": 1.5, "y2": 0.5},
        {"x1": 0.6, "y1": 0.0, "x2": 0.5, "y2": 0.5},
        {"x1": 0.0, "y1": 0.0, "x2": float("nan"), "y2": 0.5},
    ],
)
def test_boxes_must_be_normalized_and_ordered(box: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        BoundingBox(**box)


def test_track_ended_duration_must_match_times() -> None:
    ended = all_kinds()[3]
    body = ended.model_dump() | {"duration_s": 10.0}
    with pytest.raises(ValidationError, match="duration_s"):
        TrackEndedEvent.model_validate(body)
    body = ended.model_dump() | {"last_seen_at": T0 - timedelta(seconds=1)}
    with pytest.raises(ValidationError, match="before first_seen_at"):
        TrackEndedEvent.model_validate(body)


def test_encode_refuses_non_events() -> None:
    with pytest.raises(TypeError):
        encode(_box())  # type: ignore[arg-type]


def test_subject_tokens_are_safe_and_injective() -> None:
    ids = ["cam_01", "cam.01", "cam=2E01", "cam 01", "cam*", "cam>", "kamera-ü", "cam_01 "]
    tokens = [subject_token(i) for i in ids]
    assert len(set(tokens)) == len(ids)
    for token in tokens:
        assert token
        assert not set(token) & set(". *>\t\r\n")
    assert subject_token("cam_01") == "cam_01"
    with pytest.raises(ValueError):
        subject_token("")


def test_subjects_per_family() -> None:
    detections, started, updated, ended, status = all_kinds()
    assert subject_for(detections) == detections_subject(STORE, CAMERA)
    assert subject_for(detections) == "trinetra.blr-01.cam_entrance.detections"
    for event in (started, updated, ended):
        assert subject_for(event) == tracks_subject(STORE, CAMERA)
    assert subject_for(status) == status_subject(STORE, CAMERA)
    assert detections_subject("s.1", "c") == "trinetra.s=2E1.c.detections"


def test_summarize_path_keeps_ends_and_bounds_size() -> None:
    points = [PathPoint(t=i * 0.1, x=(i % 100) / 100, y=0.5) for i in range(1000)]
    summary = summarize_path(points)
    assert len(summary) == MAX_PATH_POINTS
    assert summary[0] == points[0]
    assert summary[-1] == points[-1]
    assert [p.t for p in summary] == sorted(p.t for p in summary)
    assert summarize_path(points[:5]) == tuple(points[:5])
    assert path_length([PathPoint(t=0, x=0, y=0), PathPoint(t=1, x=0.3, y=0.4)]) == 0.5


@dataclass
class _Persons:
    xyxy: np.ndarray[Any, np.dtype[np.float32]]
    confidence: np.ndarray[Any, np.dtype[np.float32]]
    tracker_id: np.ndarray[Any, np.dtype[np.int64]] | None


@dataclass
class _Analysis:
    """Shaped like trinetra.inference.detections.FrameAnalysis (numpy arrays, pixel boxes)."""

    width: int
    height: int
    persons: _Persons
    faces: list[int]
    model_versions: dict[str, str] = field(default_factory=dict)


def test_detections_from_pipeline_output() -> None:
    persons = _Persons(
        xyxy=np.array([[64, 48, 320, 480], [600, -5, 700, 100]], np.float32),
        confidence=np.array([0.9, 0.55], np.float32),
        tracker_id=np.array([3, 4], np.int64),
    )
    analysis = _Analysis(640, 480, persons, faces=[0, 1, 2], model_versions={"det": "2"})
    event = DetectionsEvent.from_analysis(
        analysis, camera_id=CAMERA, store_id=STORE, frame_seq=5, occurred_at=T0
    )
    assert event.frame_width == 640
    assert event.face_count == 3
    assert event.model_versions == {"det": "2"}
    first, second = event.persons
    assert first.box == BoundingBox(x1=0.1, y1=0.1, x2=0.5, y2=1.0)
    assert first.track_id == 3
    assert first.score == pytest.approx(0.9, abs=1e-4)
    # Boxes poking out of the frame are clipped, not rejected.
    assert (second.box.y1, second.box.x2) == (0.0, 1.0)
    assert decode(encode(event)) == event


def test_detections_carry_the_track_uid_when_given() -> None:
    persons = _Persons(
        xyxy=np.array([[64, 48, 320, 480], [600, 10, 700, 100]], np.float32),
        confidence=np.array([0.9, 0.55], np.float32),
        tracker_id=np.array([3, 4], np.int64),
    )
    analysis = _Analysis(640, 480, persons, faces=[])
    uid = _uid(3)
    event = DetectionsEvent.from_analysis(
        analysis,
        camera_id=CAMERA,
        store_id=STORE,
        frame_seq=5,
        occurred_at=T0,
        track_uids={3: str(uid)},
    )
    assert [p.track_uid for p in event.persons] == [uid, None]
    assert decode(encode(event)) == event
    # Without the mapping (an older producer) the field is simply absent.
    plain = DetectionsEvent.from_analysis(
        analysis, camera_id=CAMERA, store_id=STORE, frame_seq=5, occurred_at=T0
    )
    assert [p.track_uid for p in plain.persons] == [None, None]


# --- analytics ------------------------------------------------------------------------


def analytics_kinds(config_version: int = 3) -> list[Event]:
    """One event of every analytics kind."""
    common: dict[str, Any] = {
        "camera_id": CAMERA,
        "store_id": STORE,
        "occurred_at": T0 + timedelta(seconds=30),
        "config_version": config_version,
    }
    track: dict[str, Any] = {**common, "track_id": 7, "track_uid": _uid()}
    entered = T0 + timedelta(seconds=2)
    cells = 2 * 3
    return [
        ZoneEnteredEvent(**track, zone_id="shoes", entered_at=entered),
        ZoneExitedEvent(
            **track,
            zone_id="shoes",
            entered_at=entered,
            exited_at=T0 + timedelta(seconds=29.5),
            dwell_s=27.5,
            reason="exited",
        ),
        ZoneDwellExceededEvent(
            **track, zone_id="shoes", entered_at=entered, dwell_s=20.0, threshold_s=20.0
        ),
        ZoneOccupancyEvent(
            **common, zone_id="shoes", count=3, previous=2, capacity=2, over_capacity=True
        ),
        AreaOccupancyEvent(
            **(common | {"camera_id": STORE_CAMERA_ID}), area="front", count=1, previous=0
        ),
        LineCrossedEvent(
            **track,
            line_id="door",
            direction="in",
            crossed_at=T0 + timedelta(seconds=29.95),
            counts_store_entry=True,
        ),
        QueueSnapshotEvent(
            **common,
            zone_id="till-queue",
            length=4,
            median_service_s=45.0,
            estimated_wait_s=180.0,
            observed_wait_s=None,
            served=3,
            abandoned=1,
            over_wait_threshold=True,
        ),
        QueueAbandonedEvent(
            **track, zone_id="till-queue", left_at=T0 + timedelta(seconds=9), waited_s=7.0
        ),
        HeatmapGridEvent(
            **common,
            minute_start=T0.replace(second=0, microsecond=0),
            cols=3,
            rows=2,
            samples=(0, 1, 2, 0, 0, 5),
            person_seconds=(0.0, 0.1, 0.2, 0.0, 0.0, 0.5),
            flow_dx=(0.0, 0.01, -0.02, 0.0, 0.0, 0.0),
            flow_dy=(0.0,) * cells,
            flow_samples=(0, 1, 1, 0, 0, 4),
        ),
        VisitEndedEvent(
            **common,
            visit_id=f"{CAMERA}/7",
            ordinal=1,
            linked=False,
            camera_ids=(CAMERA,),
            track_uids=(_uid(),),
            started_at=T0,
            entered_at=T0 + timedelta(seconds=1),
            ended_at=T0 + timedelta(seconds=30),
            end_reason="track_ended",
            duration_s=29.0,
            path=("shoes",),
            stays=(
                VisitStay(
                    camera_id=CAMERA,
                    zone_id="shoes",
                    zone_kind="area",
                    area="shoes",
                    entered_at=entered,
                    exited_at=T0 + timedelta(seconds=29.5),
                    dwell_s=27.5,
                ),
            ),
            area_dwell=(AreaDwell(area="shoes", dwell_s=27.5),),
            funnel_stages={"buy": 2},
        ),
    ]


def test_the_analytics_examples_cover_every_analytics_kind() -> None:
    kinds = [e.kind for e in analytics_kinds()]
    assert kinds == [t.model_fields["kind"].default for t in ANALYTICS_EVENT_TYPES]
    assert len(set(kinds)) == len(kinds)


@pytest.mark.parametrize("event", analytics_kinds(), ids=lambda e: e.kind)
def test_every_analytics_kind_round_trips(event: Event) -> None:
    payload = encode(event)
    decoded = decode(payload)
    assert type(decoded) is type(event)
    assert decoded == event
    assert json.loads(payload)["config_version"] == 3


def test_analytics_event_ids_are_deterministic() -> None:
    # A replay builds every event again (new published_at): the same ids.
    first, again = analytics_kinds(), analytics_kinds()
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == len(first)
    # Track events are the same fact under any configuration version (a replay after a
    # change dedupes against the original); counts name their version, because a
    # configuration change can move them again at the same frame time.
    versioned = (ZoneOccupancyEvent, AreaOccupancyEvent, QueueSnapshotEvent)
    for a, b in zip(first, analytics_kinds(4), strict=True):
        assert (a.event_id != b.event_id) == isinstance(a, versioned), a.kind
    occupancy = first[3]
    assert isinstance(occupancy, ZoneOccupancyEvent)
    # Two changes of one zone at the same frame time (a configuration change right after
    # a frame) are two events.
    back = ZoneOccupancyEvent.model_validate(
        occupancy.model_dump(exclude={"event_id"}) | {"count": 2, "previous": 3}
    )
    assert back.event_id != occupancy.event_id
    crossed = first[5]
    assert isinstance(crossed, LineCrossedEvent)
    out = LineCrossedEvent.model_validate(
        crossed.model_dump(exclude={"event_id"}) | {"direction": "out"}
    )
    assert out.event_id != crossed.event_id


def test_analytics_subjects() -> None:
    events = analytics_kinds()
    area = next(e for e in events if isinstance(e, AreaOccupancyEvent))
    for event in events:
        expected = analytics_subject(STORE, event.camera_id)
        assert subject_for(event) == expected
    assert subject_for(events[0]) == "trinetra.blr-01.cam_entrance.analytics"
    assert subject_for(area) == "trinetra.blr-01._store.analytics"
    assert ANALYTICS_SUBJECTS == "trinetra.*.*.analytics"


def test_analytics_durations_are_rounded_to_milliseconds() -> None:
    exited = analytics_kinds()[1]
    body = exited.model_dump(exclude={"event_id"}) | {"dwell_s": 27.123456789}
    assert ZoneExitedEvent.model_validate(body).dwell_s == 27.123
    with pytest.raises(ValidationError):
        ZoneExitedEvent.model_validate(body | {"dwell_s": -1.0})
    with pytest.raises(ValidationError):
        ZoneExitedEvent.model_validate(body | {"reason": "vanished"})


def test_heatmap_arrays_must_match_the_grid() -> None:
    grid = analytics_kinds()[8]
    body = grid.model_dump(exclude={"event_id"}) | {"samples": (1, 2, 3)}
    with pytest.raises(ValidationError, match="samples must have cols x rows = 6"):
        HeatmapGridEvent.model_validate(body)
    too_big = body | {"cols": 1024, "rows": 1024}
    with pytest.raises(ValidationError, match="at most"):
        HeatmapGridEvent.model_validate(too_big)
