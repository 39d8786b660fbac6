"""ByteTrack behaviour on scripted scenes whose ground truth is known frame by frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from orchestrator.tracking import ByteTracker, TrackerConfig
from orchestrator.tracking.matching import iou_matrix
from perf.synthetic_scenes import DetectorNoise, Frame, Person, random_scene, render
from tests.orchestrator.tracking.helpers import frame_ids, ids_by_person, run, track_of
from trinetra.inference.detections import Detections

QUIET = DetectorNoise(box_sigma=0.01)


def walker(gt_id: int = 1, **changes: Any) -> Person:
    """Someone walking right at 3 px/frame for 120 frames, unless told otherwise."""
    return replace(Person(gt_id, start=0, end=120, x=300.0, y=500.0, vx=3.0), **changes)


def test_first_frame_people_start_at_once() -> None:
    frames = render([walker(1), walker(2, y=200.0)], 3, QUIET)
    updates = run(ByteTracker(), frames)
    assert sorted(updates[0].started) == [1, 2]
    assert sorted(frame_ids(updates[0])) == [1, 2]
    assert updates[1].started == updates[2].started == ()


@pytest.mark.parametrize(("y_offset", "overlap"), [(40.0, 0.55), (-40.0, 0.55), (15.0, 0.8)])
def test_crossing_people_keep_their_ids(y_offset: float, overlap: float) -> None:
    a = walker(1, x=200.0, vx=8.0, end=90)
    b = walker(2, x=840.0, y=500.0 + y_offset, vx=-8.0, end=90)  # they meet on frame 40
    frames = render([a, b], 90, DetectorNoise(box_sigma=0.02), seed=1)
    assert _max_iou(frames) > overlap  # the boxes really do overlap at the crossing
    seen = ids_by_person(frames, run(ByteTracker(), frames))
    assert seen[1] != seen[2]
    assert len(seen[1]) == len(seen[2]) == 1


def test_person_occluded_while_crossing_keeps_id() -> None:
    a = walker(1, x=200.0, vx=8.0, end=90)
    # b walks behind a and is hidden while they overlap (frames 40-49)
    b = walker(2, x=900.0, y=530.0, vx=-8.0, end=90, hidden=((40, 50),))
    frames = render([a, b], 90, DetectorNoise(box_sigma=0.02), seed=2)
    updates = run(ByteTracker(), frames)
    seen = ids_by_person(frames, updates)
    assert len(seen[1]) == len(seen[2]) == 1 and seen[1] != seen[2]
    assert all(u.ended == () for u in updates)


@pytest.mark.parametrize("hidden_frames", [1, 20, 30])
def test_occlusion_within_buffer_keeps_id(hidden_frames: int) -> None:
    person = walker(1, hidden=((30, 30 + hidden_frames),))
    frames = render([person], 120, QUIET, seed=3)
    updates = run(ByteTracker(), frames)
    assert ids_by_person(frames, updates) == {1: {1}}
    assert track_of(frames[30 + hidden_frames], updates[30 + hidden_frames], 1) == 1
    assert [u.ended for u in updates if u.ended] == []


@pytest.mark.parametrize("hidden_frames", [31, 45])
def test_occlusion_beyond_buffer_ends_track_and_starts_new_id(hidden_frames: int) -> None:
    back = 30 + hidden_frames
    person = walker(1, hidden=((30, back),))
    frames = render([person], back + 10, QUIET, seed=4)
    updates = run(ByteTracker(), frames)
    # last seen on frame 29; 30 frames of buffer later (frame 60) the track ends, once
    assert [(i, u.ended) for i, u in enumerate(updates) if u.ended] == [(60, (1,))]
    # back: unconfirmed on its first frame, confirmed with a fresh id on the second
    assert track_of(frames[back], updates[back], 1) is None
    assert updates[back + 1].started == (2,)
    assert track_of(frames[back + 1], updates[back + 1], 1) == 2
    assert ids_by_person(frames, updates) == {1: {1, 2}}


def test_lower_frame_rate_shortens_the_buffer() -> None:
    person = walker(1, hidden=((30, 47),))  # 17 frames, more than 15 (30 at 15 fps)
    frames = render([person], 60, QUIET, seed=5)
    at_30 = ids_by_person(frames, run(ByteTracker(), frames))
    at_15 = ids_by_person(frames, run(ByteTracker(TrackerConfig(frame_rate=15)), frames))
    assert at_30 == {1: {1}}
    assert at_15 == {1: {1, 2}}


def test_low_score_detections_carry_a_track_through_the_second_stage() -> None:
    person = walker(1, low_score=((30, 45),))
    frames = render([person], 60, QUIET, seed=6)
    scores = [f.detections.confidence for f in frames[30:45]]
    assert all(0.1 <= s[0] < 0.5 for s in scores)

    updates = run(ByteTracker(), frames)
    assert [track_of(f, u, 1) for f, u in zip(frames, updates, strict=True)] == [1] * 60

    # Without the second stage the low-score frames drop the person (the track is lost,
    # then re-found by the first confident detection).
    no_low = TrackerConfig(track_low_thresh=0.5)
    updates = run(ByteTracker(no_low), frames)
    assert [track_of(f, u, 1) for f, u in zip(frames[30:45], updates[30:45], strict=True)] == [
        None
    ] * 15
    assert track_of(frames[45], updates[45], 1) == 1


def test_low_score_cannot_start_or_refind_a_track() -> None:
    ghost = walker(1, low_score=((0, 60),))  # never confident
    returning = walker(2, y=150.0, hidden=((20, 25),), low_score=((25, 30),))
    frames = render([ghost, returning], 40, QUIET, seed=7)
    updates = run(ByteTracker(), frames)
    assert 1 not in ids_by_person(frames, updates)
    # lost tracks are only matched against confident detections
    assert [track_of(f, u, 2) for f, u in zip(frames[20:31], updates[20:31], strict=True)] == [
        None
    ] * 10 + [1]
    assert all(u.started == () for u in updates[1:])


def test_missed_detections_do_not_change_the_id() -> None:
    people = [walker(1), walker(2, y=200.0, vx=-2.0, x=1200.0)]
    frames = render(people, 120, DetectorNoise(box_sigma=0.02, miss_rate=0.25), seed=8)
    assert sum(len(f.detections) for f in frames) < 0.8 * 240
    seen = ids_by_person(frames, run(ByteTracker(), frames))
    assert len(seen[1]) == len(seen[2]) == 1 and seen[1] != seen[2]


def test_person_entering_gets_the_next_id_once_confirmed() -> None:
    people = [walker(1), walker(2, start=20, x=1500.0, y=300.0, vx=-4.0)]
    frames = render(people, 40, QUIET, seed=9)
    updates = run(ByteTracker(), frames)
    assert track_of(frames[20], updates[20], 2) is None  # seen once: not confirmed yet
    assert updates[21].started == (2,)
    assert track_of(frames[21], updates[21], 2) == 2
    assert [i for i, u in enumerate(updates) if u.started] == [0, 21]


def test_one_frame_false_positive_is_dropped_and_consumes_no_id() -> None:
    people = [walker(1), walker(2, start=5, end=6, x=1500.0), walker(3, start=10, x=1000.0)]
    frames = render(people, 20, QUIET, seed=10)
    tracker = ByteTracker()
    updates = run(tracker, frames[:7])
    assert len(tracker.state_dict()["tracks"]) == 1  # unconfirmed and unmatched: gone
    updates += run(tracker, frames[7:])
    assert 2 not in ids_by_person(frames, updates)
    assert updates[11].started == (2,)  # the next real person gets the next id


def test_only_detections_above_new_track_thresh_start_tracks() -> None:
    people = [walker(1), walker(2, y=200.0)]
    hesitant = DetectorNoise(box_sigma=0.01, high_score=(0.5, 0.59))
    frames = render(people, 30, hesitant, seed=14)
    assert all(0.5 <= c < 0.6 for f in frames for c in f.detections.confidence)
    assert ids_by_person(frames, run(ByteTracker(), frames)) == {}
    lenient = TrackerConfig(new_track_thresh=0.5)
    seen = ids_by_person(frames, run(ByteTracker(lenient), frames))
    assert len(seen[1]) == len(seen[2]) == 1 and seen[1] | seen[2] == {1, 2}


def test_output_rows_are_the_input_detections() -> None:
    frames = random_scene(8, 40, seed=11)
    for frame, update in zip(frames, run(ByteTracker(), frames), strict=True):
        index = update.detection_index
        assert np.all(np.diff(index) > 0)
        np.testing.assert_array_equal(update.detections.xyxy, frame.detections.xyxy[index])
        np.testing.assert_array_equal(
            update.detections.confidence, frame.detections.confidence[index]
        )


def test_lifecycle_events_over_a_busy_scene() -> None:
    frames = random_scene(12, 300, seed=12)
    updates = run(ByteTracker(), frames)
    started = [i for u in updates for i in u.started]
    ended = [i for u in updates for i in u.ended]
    assert started == list(range(1, len(started) + 1))  # positive, increasing, no gaps
    assert len(started) > 12  # people did come and go
    assert len(ended) == len(set(ended)) and set(ended) <= set(started)
    live: set[int] = set()
    for update in updates:
        ids = set(frame_ids(update))
        assert set(update.started) <= ids
        live |= set(update.started)
        assert ids <= live  # never output before started or after ended
        live -= set(update.ended)


def test_every_track_ends_exactly_once_when_the_scene_empties() -> None:
    tracker = ByteTracker()
    frames = random_scene(6, 100, seed=13)
    updates = run(tracker, frames)
    updates += [tracker.update(Detections.empty()) for _ in range(40)]
    started = [i for u in updates for i in u.started]
    ended = [i for u in updates for i in u.ended]
    assert sorted(ended) == started
    assert all(len(u.detections) == 0 for u in updates[-40:])


def test_empty_frames() -> None:
    tracker = ByteTracker()
    update = tracker.update(Detections.empty())
    assert len(update.detections) == 0
    assert update.detections.tracker_id is not None and update.detections.tracker_id.size == 0
    assert update.started == update.ended == ()
    assert update.detection_index.size == 0
    # Someone appearing after the tracker's first frame needs a second detection.
    updates = run(tracker, render([walker(1)], 5, QUIET))
    assert [u.started for u in updates] == [(), (1,), (), (), ()]
    assert tracker.frame_id == 6
    ends = [tracker.update(Detections.empty()).ended for _ in range(31)]
    assert ends[:30] == [()] * 30 and ends[30] == (1,)


def _max_iou(frames: Sequence[Frame]) -> float:
    """Largest overlap of the two people's true boxes over the scene."""
    pairs = [f.gt_boxes for f in frames if len(f.gt_boxes) == 2]
    return max(float(iou_matrix(b[:1], b[1:])[0, 0]) for b in pairs)
