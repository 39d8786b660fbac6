"""The composed engine: determinism, snapshot/restore, live configuration, timeouts."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from analytics.config import EngineSettings
from analytics.engine.engine import CameraAnalytics, StoreAnalytics
from analytics.engine.events import (
    DwellThresholdExceeded,
    EngineEvent,
    LineCrossed,
    OccupancyChanged,
    ZoneEntered,
    ZoneExited,
)
from analytics.engine.observations import TrackBox, TrackedFrame, track_ended
from tests.analytics.helpers import (
    T0,
    at,
    box,
    config,
    crowd,
    ends_of,
    frame,
    line,
    square,
    zone,
)
from trinetra.config.analytics import StoreAnalyticsConfig

FUNNEL = {
    "id": "f",
    "name": "f",
    "stages": [{"kind": "store_entry"}, {"kind": "zone_kind", "zone_kind": "checkout"}],
}


def _rich_config(version: int = 1) -> StoreAnalyticsConfig:
    return config(
        zones=[
            zone("left", square(0.05, 0.05, 0.45, 0.95), dwell_threshold_s=3.0),
            zone("centre", ((0.3, 0.3), (0.7, 0.25), (0.75, 0.7), (0.5, 0.8), (0.28, 0.7))),
            zone("queue", square(0.55, 0.1, 0.95, 0.45), kind="queue"),
            zone("till", square(0.6, 0.5, 0.95, 0.9), kind="checkout", physical_area="tills"),
        ],
        lines=[
            line("door", (0.5, 0.0), (0.5, 1.0), counts_store_entry=True),
            line("aisle", (0.1, 0.5), (0.9, 0.55), in_side="left"),
        ],
        funnels=[FUNNEL],
        version=version,
    )


def _run(
    engine: StoreAnalytics, frames: Sequence[TrackedFrame], start: int = 0, stop: int | None = None
) -> list[EngineEvent]:
    ends = ends_of(frames)
    out: list[EngineEvent] = []
    stop = len(frames) if stop is None else stop
    for i in range(start, stop):
        out += engine.process(frames[i])
        for tid in ends.get(i, ()):
            out += engine.end_track(frames[i].camera_id, tid, frames[i].at)
    return out


FRAMES = crowd(25, 900, seed=4)


def test_deterministic() -> None:
    first = _run(StoreAnalytics(_rich_config()), FRAMES)
    second = _run(StoreAnalytics(_rich_config()), FRAMES)
    assert first == second
    kinds = {type(e).__name__ for e in first}
    assert {"ZoneEntered", "ZoneExited", "LineCrossed", "QueueSnapshot", "HeatmapGrid"} <= kinds
    assert {"VisitEnded", "OccupancyChanged", "AreaOccupancyChanged"} <= kinds
    assert all(e.config_version == 1 for e in first)


@pytest.mark.parametrize("cut", [1, 137, 450, 899])
def test_snapshot_restore_continues_exactly(cut: int) -> None:
    reference = _run(StoreAnalytics(_rich_config()), FRAMES)
    engine = StoreAnalytics(_rich_config())
    before = _run(engine, FRAMES, 0, cut)
    state = json.loads(json.dumps(engine.snapshot()))  # through real JSON
    restored = StoreAnalytics(_rich_config())
    assert restored.restore(state) == []
    after = _run(restored, FRAMES, cut)
    assert before + after == reference


def test_restore_under_a_newer_config_applies_it() -> None:
    engine = StoreAnalytics(_rich_config())
    _run(engine, FRAMES, 0, 300)
    state = engine.snapshot()
    newer = config(zones=[zone("left", square(0.05, 0.05, 0.45, 0.95))], version=2)
    restored = StoreAnalytics(newer)
    events = restored.restore(state)
    assert restored.config == newer
    assert all(e.config_version == 2 for e in events)
    removed = [e for e in events if isinstance(e, ZoneExited)]
    assert removed and {e.reason for e in removed} == {"zone_removed"}
    assert {e.zone_id for e in removed} <= {"centre", "queue", "till"}
    later = _run(restored, FRAMES, 300)
    assert later and all(e.config_version == 2 for e in later)
    assert not [e for e in later if isinstance(e, LineCrossed)]


def test_snapshot_format_is_checked() -> None:
    with pytest.raises(ValueError, match="snapshot format"):
        StoreAnalytics(_rich_config()).restore({"format": 99})


def test_live_config_change_closes_removed_zones() -> None:
    engine = StoreAnalytics(config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]))
    events: list[EngineEvent] = []
    for k in range(10):
        events += engine.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3)), box(2, (0.8, 0.8))]))
    assert [e.zone_id for e in events if isinstance(e, ZoneEntered)] == ["a"]
    new = config(zones=[zone("b", square(0.6, 0.6, 0.9, 0.9))], version=2)
    changed = engine.apply_config(new)
    exited = [e for e in changed if isinstance(e, ZoneExited)]
    assert [(e.zone_id, e.reason, e.config_version) for e in exited] == [("a", "zone_removed", 2)]
    occupancy = [e for e in changed if isinstance(e, OccupancyChanged)]
    assert [(e.zone_id, e.count) for e in occupancy] == [("a", 0)]
    later: list[EngineEvent] = []
    for k in range(10, 15):
        later += engine.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3)), box(2, (0.8, 0.8))]))
    entered = [e for e in later if isinstance(e, ZoneEntered)]
    assert [(e.zone_id, e.track_id, e.config_version) for e in entered] == [("b", 2, 2)]


def test_moved_zone_keeps_its_stays() -> None:
    engine = StoreAnalytics(config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]))
    for k in range(5):
        engine.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3))]))
    moved = config(zones=[zone("a", square(0.2, 0.2, 0.6, 0.6))], version=2)
    assert engine.apply_config(moved) == []
    events = engine.end_track("cam-1", 1, at(1.0))
    (exited,) = [e for e in events if isinstance(e, ZoneExited)]
    assert exited.entered_at == T0 and exited.config_version == 2


def test_out_of_order_frames_are_dropped() -> None:
    engine = StoreAnalytics(config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]))
    engine.process(frame(2, 2.0, [box(1, (0.3, 0.3))]))
    assert engine.process(frame(1, 1.0, [box(1, (0.3, 0.3))])) == []
    assert engine.camera("cam-1").dropped_frames == 1


def test_invalid_boxes_are_skipped() -> None:
    engine = StoreAnalytics(config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]))
    nan = float("nan")
    bad = [
        TrackBox(1, (nan, 10.0, 20.0, 30.0), 0.9),
        TrackBox(2, (10.0, 10.0, float("inf"), 30.0), 0.9),
        TrackBox(3, (10.0, 50.0, 20.0, 30.0), 0.9),  # y2 above y1
    ]
    assert engine.process(frame(1, 0.0, [*bad, box(4, (0.3, 0.3))])) == []
    cam = engine.camera("cam-1")
    assert cam.invalid_boxes == 3 and cam.track_ids == (4,)


def test_track_timeout_closes_stays() -> None:
    engine = StoreAnalytics(
        config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]), EngineSettings(track_timeout_s=5.0)
    )
    for k in range(5):
        engine.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3))]))
    events: list[EngineEvent] = []
    for k in range(5, 80):
        events += engine.process(frame(k, 0.1 * k, [box(2, (0.8, 0.8))]))
    (exited,) = [e for e in events if isinstance(e, ZoneExited)]
    assert exited.reason == "timeout" and exited.exited_at == at(0.4)
    assert engine.camera("cam-1").track_ids == (2,)


def test_dwell_threshold_once_per_stay() -> None:
    engine = StoreAnalytics(
        config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5), dwell_threshold_s=2.0)])
    )
    events: list[EngineEvent] = []
    for k in range(60):
        events += engine.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3))]))
    (alert,) = [e for e in events if isinstance(e, DwellThresholdExceeded)]
    assert alert.dwell_s >= 2.0 and alert.dwell_s < 3.1 and alert.threshold_s == 2.0


def test_end_of_unknown_track_is_harmless() -> None:
    engine = StoreAnalytics(config())
    ended = track_ended("cam-9", 5, at(1.0))
    assert engine.end_track(ended.camera_id, ended.track_id, ended.at) == []


def test_events_serialize_to_json() -> None:
    events = _run(StoreAnalytics(_rich_config()), FRAMES, 0, 900)
    for event in events[:2000]:
        data = event.to_dict()
        assert data["type"] == event.type
        json.dumps(data)


def test_camera_analytics_standalone() -> None:
    cam = CameraAnalytics("cam-1", config(zones=[zone("a", square(0.1, 0.1, 0.5, 0.5))]))
    events: list[EngineEvent] = []
    for k in range(5):
        events += cam.process(frame(k, 0.1 * k, [box(1, (0.3, 0.3))]))
    assert cam.occupancy("a") == 1 and cam.occupancy("nope") == 0
    assert any(isinstance(e, ZoneEntered) for e in events)


def test_observations_validate_time_and_size() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TrackedFrame("cam-1", 1, T0.replace(tzinfo=None), 10, 10, ())
    with pytest.raises(ValueError, match="positive"):
        TrackedFrame("cam-1", 1, T0, 0, 10, ())
    assert TrackBox(1, (10.0, 20.0, 30.0, 120.0), 0.9).foot == (20.0, 120.0)
