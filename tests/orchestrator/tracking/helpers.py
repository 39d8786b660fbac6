"""Run a tracker over a synthetic scene and read its output in ground-truth terms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from orchestrator.tracking import ByteTracker, TrackUpdate
from perf.synthetic_scenes import Frame


def run(tracker: ByteTracker, frames: Sequence[Frame]) -> list[TrackUpdate]:
    return [tracker.update(frame.detections) for frame in frames]


def frame_ids(update: TrackUpdate) -> list[int]:
    ids = update.detections.tracker_id
    assert ids is not None
    return [int(i) for i in ids]


def ids_by_person(frames: Sequence[Frame], updates: Sequence[TrackUpdate]) -> dict[int, set[int]]:
    """Ground-truth id -> track ids given to its detections (a false positive is -1)."""
    seen: dict[int, set[int]] = defaultdict(set)
    for frame, update in zip(frames, updates, strict=True):
        gt = frame.det_gt_ids[update.detection_index]
        for person, track in zip(gt.tolist(), frame_ids(update), strict=True):
            seen[person].add(track)
    return dict(seen)


def track_of(frame: Frame, update: TrackUpdate, person: int) -> int | None:
    """Track id output for `person` on this frame, None if it is not in the output."""
    gt = frame.det_gt_ids[update.detection_index].tolist()
    ids = frame_ids(update)
    matches = [ids[k] for k, g in enumerate(gt) if g == person]
    assert len(matches) <= 1
    return matches[0] if matches else None
