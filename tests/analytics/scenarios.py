"""Recorded detections for the analytics service tests: DetectionsEvents as a store node
would publish them, people walking through a zone and across a line.

Each camera runs the same 40 s script per cycle, at 10 fps, on a 1280x720 frame:

- person A walks in from the left, crosses the aisle line left to right ("in"), stays
  in the shelf zone for 6 s, walks back and crosses right to left ("out"), and leaves;
- person B walks right to left straight across the shelf zone and the line ("out");
- then the view is empty until the cycle ends, long enough for the tracks to time out.

Track ids count up per camera across cycles (as a tracker's do); track uids follow
`make_track_uid`. `interleave` merges cameras by frame time, the order a node publishes.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import BoundingBox, DetectedPerson, DetectionsEvent, make_track_uid

STORE = "store-1"
T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
FPS = 10
WIDTH, HEIGHT = 1280, 720
CYCLE_S = 40.0
BOX_H = 0.2  # normalized box height
BOX_W = 0.05

# Foot-point waypoints (t seconds into the cycle, x, y), linearly interpolated.
PERSON_A = ((0.0, 0.10, 0.55), (4.0, 0.70, 0.55), (10.0, 0.75, 0.50), (14.0, 0.15, 0.50))
PERSON_B = ((2.0, 0.95, 0.45), (8.0, 0.05, 0.45))

SHELF = ((0.6, 0.3), (0.9, 0.3), (0.9, 0.7), (0.6, 0.7))
SPARE = ((0.05, 0.75), (0.3, 0.75), (0.3, 0.95), (0.05, 0.95))  # nobody goes there
# Vertical aisle line pointing down the image; the right half of the image is "in".
AISLE_A, AISLE_B = (0.5, 0.05), (0.5, 0.95)


def zone_def(
    zone_id: str, camera_id: str, polygon: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    return {
        "id": zone_id,
        "camera_id": camera_id,
        "name": zone_id,
        "kind": "area",
        "polygon": [list(p) for p in polygon],
    }


def store_config(
    cameras: Sequence[str], version: int = 1, *, spare_zone: bool = False
) -> StoreAnalyticsConfig:
    """The shelf zone and the aisle line on every camera (zone and line ids are unique in
    a store, so they carry the camera id); `spare_zone` adds a zone nobody enters."""
    zones = [zone_def(f"shelf-{c}", c, SHELF) for c in cameras]
    if spare_zone:
        zones += [zone_def(f"spare-{c}", c, SPARE) for c in cameras]
    lines = [
        {
            "id": f"aisle-{c}",
            "camera_id": c,
            "name": "aisle",
            "a": list(AISLE_A),
            "b": list(AISLE_B),
            "in_side": "left",
        }
        for c in cameras
    ]
    return StoreAnalyticsConfig.model_validate(
        {"store_id": STORE, "version": version, "zones": zones, "lines": lines}
    )


def _position(path: Sequence[tuple[float, float, float]], t: float) -> tuple[float, float] | None:
    if not path[0][0] <= t <= path[-1][0]:
        return None
    for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(path):
        if t0 <= t <= t1:
            k = (t - t0) / (t1 - t0)
            return (x0 + (x1 - x0) * k, y0 + (y1 - y0) * k)
    return None


def _person(x: float, y: float, track_id: int, uid: Any) -> DetectedPerson:
    box = BoundingBox(
        x1=max(0.0, x - BOX_W / 2), y1=max(0.0, y - BOX_H), x2=min(1.0, x + BOX_W / 2), y2=y
    )
    return DetectedPerson(box=box, score=0.9, track_id=track_id, track_uid=uid)


@dataclass
class _Track:
    track_id: int
    path: tuple[tuple[float, float, float], ...]
    uid: Any = None


def camera_frames(
    camera_id: str, cycles: int = 1, *, offset_s: float = 0.0, store_id: str = STORE
) -> list[DetectionsEvent]:
    """`cycles` x 40 s of one camera's detections, starting `offset_s` after T0."""
    frames: list[DetectionsEvent] = []
    n = int(CYCLE_S * FPS)
    for cycle in range(cycles):
        tracks = [_Track(2 * cycle + 1, PERSON_A), _Track(2 * cycle + 2, PERSON_B)]
        for k in range(n):
            t = k / FPS
            at = T0 + timedelta(seconds=offset_s + cycle * CYCLE_S + t)
            persons = []
            for track in tracks:
                foot = _position(track.path, t)
                if foot is None:
                    continue
                if track.uid is None:
                    track.uid = make_track_uid(store_id, camera_id, track.track_id, at)
                persons.append(_person(*foot, track.track_id, track.uid))
            frames.append(
                DetectionsEvent(
                    camera_id=camera_id,
                    store_id=store_id,
                    occurred_at=at,
                    frame_seq=cycle * n + k,
                    frame_width=WIDTH,
                    frame_height=HEIGHT,
                    persons=tuple(persons),
                )
            )
    return frames


def interleave(streams: Iterable[Sequence[DetectionsEvent]]) -> list[DetectionsEvent]:
    """Several cameras' frames merged by frame time (ties: the order of `streams`)."""
    keyed = [
        [(e.occurred_at, i, k, e) for k, e in enumerate(frames)] for i, frames in enumerate(streams)
    ]
    return [e for *_, e in heapq.merge(*keyed)]


def store_frames(cameras: Sequence[str], cycles: int = 1) -> list[DetectionsEvent]:
    """Every camera's frames, a little out of phase (1.3 s apart), interleaved."""
    return interleave(camera_frames(c, cycles, offset_s=1.3 * i) for i, c in enumerate(cameras))


def facts(events: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Events as comparable facts: (event id, every field but `published_at`, the only
    wall-clock field), in order."""
    return [(str(e.event_id), e.model_dump(mode="json", exclude={"published_at"})) for e in events]
