"""Checkpoints: a restored tracker continues exactly like one that never stopped."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from orchestrator.tracking import ByteTracker, TrackerConfig, TrackUpdate
from perf.synthetic_scenes import random_scene
from tests.orchestrator.tracking.helpers import frame_ids, run


def _summary(update: TrackUpdate) -> tuple[object, ...]:
    return (
        frame_ids(update),
        update.detections.xyxy.tolist(),
        update.detection_index.tolist(),
        update.started,
        update.ended,
    )


def _checkpoint_with_every_kind_of_track() -> tuple[ByteTracker, int, dict[str, Any]]:
    """A tracker stopped on a frame where it holds tracked, lost and unconfirmed tracks."""
    frames = random_scene(15, 200, seed=21)
    tracker = ByteTracker()
    for i, frame in enumerate(frames):
        tracker.update(frame.detections)
        tracks = tracker.state_dict()["tracks"]
        kinds = {(t["track_id"] is None, t["lost"]) for t in tracks}
        if i >= 30 and kinds == {(False, False), (False, True), (True, False)}:
            return tracker, i + 1, tracker.state_dict()
    raise AssertionError("scene never had tracked, lost and unconfirmed tracks at once")


def test_restored_tracker_continues_identically() -> None:
    frames = random_scene(15, 200, seed=21)
    uninterrupted = [_summary(u) for u in run(ByteTracker(), frames)]

    _, cut, checkpoint = _checkpoint_with_every_kind_of_track()
    restored = ByteTracker.from_state(json.loads(json.dumps(checkpoint)), TrackerConfig())
    resumed = [_summary(u) for u in run(restored, frames[cut:])]

    assert resumed == uninterrupted[cut:]
    assert any(s[3] for s in resumed) and any(s[4] for s in resumed)  # ids started and ended


def test_checkpoint_round_trips_exactly() -> None:
    tracker, _, checkpoint = _checkpoint_with_every_kind_of_track()
    restored = ByteTracker.from_state(json.loads(json.dumps(checkpoint)))
    assert restored.state_dict() == checkpoint
    assert restored.frame_id == tracker.frame_id


def test_restored_tracker_never_reuses_ids() -> None:
    frames = random_scene(5, 120, seed=22)
    tracker = ByteTracker()
    first = [i for u in run(tracker, frames[:60]) for i in u.started]
    restored = ByteTracker.from_state(tracker.state_dict())
    later = [i for u in run(restored, frames[60:]) for i in u.started]
    assert first and later
    assert min(later) > max(first)


def test_unknown_version_is_rejected() -> None:
    checkpoint = ByteTracker().state_dict()
    assert checkpoint["version"] == 1
    with pytest.raises(ValueError, match="unsupported tracker state version 2"):
        ByteTracker.from_state({**checkpoint, "version": 2})
    with pytest.raises(ValueError, match="version None"):
        ByteTracker.from_state({k: v for k, v in checkpoint.items() if k != "version"})


def _one_track_checkpoint() -> dict[str, Any]:
    tracker = ByteTracker()
    frames = random_scene(1, 3, seed=23)
    run(tracker, frames)
    checkpoint = tracker.state_dict()
    assert len(checkpoint["tracks"]) == 1
    return checkpoint


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda s: s.update(next_id=1), "next_id"),
        (lambda s: s["tracks"][0].update(mean=[0.0] * 7), "mean"),
        (lambda s: s["tracks"][0].update(track_id=None, lost=True), "unconfirmed"),
        (lambda s: s["tracks"][0].update(last_frame=99), "last_frame"),
        (lambda s: s.update(extra=1), "extra"),
        (lambda s: s["tracks"].append(dict(s["tracks"][0])), "unique"),
    ],
)
def test_inconsistent_checkpoint_is_rejected(corrupt: Any, message: str) -> None:
    checkpoint = json.loads(json.dumps(_one_track_checkpoint()))
    corrupt(checkpoint)
    with pytest.raises(ValueError, match=message):
        ByteTracker.from_state(checkpoint)


def test_checkpoint_holds_plain_json_types() -> None:
    _, _, checkpoint = _checkpoint_with_every_kind_of_track()

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (bool, int, float, str)

    assert plain(checkpoint)
    assert not np.isnan(json.loads(json.dumps(checkpoint))["tracks"][0]["mean"][0])
