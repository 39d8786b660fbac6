"""Builders for analytics tests: configurations and frames from foot points."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.engine.observations import TrackBox, TrackedFrame
from trinetra.config.analytics import (
    LineDefinition,
    StoreAnalyticsConfig,
    ZoneDefinition,
)

T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
CAM = "cam-1"
WIDTH = 1000
HEIGHT = 1000
BOX_H = 100.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def square(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def zone(
    zone_id: str,
    polygon: Sequence[tuple[float, float]],
    kind: str = "area",
    camera_id: str = CAM,
    **extra: Any,
) -> ZoneDefinition:
    return ZoneDefinition.model_validate(
        {
            "id": zone_id,
            "camera_id": camera_id,
            "name": zone_id,
            "kind": kind,
            "polygon": [list(p) for p in polygon],
            **extra,
        }
    )


def line(
    line_id: str,
    a: tuple[float, float],
    b: tuple[float, float],
    in_side: str = "right",
    camera_id: str = CAM,
    counts_store_entry: bool = False,
) -> LineDefinition:
    return LineDefinition.model_validate(
        {
            "id": line_id,
            "camera_id": camera_id,
            "name": line_id,
            "a": list(a),
            "b": list(b),
            "in_side": in_side,
            "counts_store_entry": counts_store_entry,
        }
    )


def config(
    zones: Iterable[ZoneDefinition] = (),
    lines: Iterable[LineDefinition] = (),
    funnels: Iterable[dict[str, Any]] = (),
    version: int = 1,
) -> StoreAnalyticsConfig:
    return StoreAnalyticsConfig.model_validate(
        {
            "store_id": "store-1",
            "version": version,
            "zones": [z.model_dump() for z in zones],
            "lines": [ln.model_dump() for ln in lines],
            "funnels": list(funnels),
        }
    )


def box(
    track_id: int,
    foot: tuple[float, float],
    visit_id: str | None = None,
    customer_id: str | None = None,
    box_h: float = BOX_H,
) -> TrackBox:
    """A person whose feet stand at the normalized `foot` point."""
    fx, fy = foot[0] * WIDTH, foot[1] * HEIGHT
    return TrackBox(
        track_id, (fx - 0.2 * box_h, fy - box_h, fx + 0.2 * box_h, fy), 0.9, visit_id, customer_id
    )


def frame(
    seq: int,
    t: float,
    boxes: Iterable[TrackBox],
    camera_id: str = CAM,
) -> TrackedFrame:
    return TrackedFrame(
        camera_id=camera_id,
        frame_seq=seq,
        at=at(t),
        width=WIDTH,
        height=HEIGHT,
        tracks=tuple(boxes),
    )


def walk(
    track_id: int,
    start: tuple[float, float],
    end: tuple[float, float],
    n: int,
) -> list[tuple[float, float]]:
    """n foot points from start to end inclusive, evenly spaced."""
    if n == 1:
        return [start]
    return [
        (start[0] + (end[0] - start[0]) * k / (n - 1), start[1] + (end[1] - start[1]) * k / (n - 1))
        for k in range(n)
    ]


def crowd(
    n_people: int, n_frames: int, seed: int = 0, fps: float = 10.0, jitter: float = 0.004
) -> list[TrackedFrame]:
    """Deterministic walkers: each enters at a random frame, walks in a straight line with
    a little foot-point jitter, stops for a while in the middle, and leaves; every third
    person gets a visit id from their 10th frame on, as if identity resolved then."""
    import numpy as np

    rng = np.random.default_rng(seed)
    people = []
    for pid in range(1, n_people + 1):
        start = int(rng.integers(0, max(1, n_frames // 2)))
        length = int(rng.integers(n_frames // 4, n_frames // 2 + 1))
        a = rng.uniform(0.05, 0.95, 2)
        b = rng.uniform(0.05, 0.95, 2)
        pause = (int(rng.integers(0, length // 2)), int(rng.integers(5, 30)))
        people.append((pid, start, length, a, b, pause))
    frames = []
    for f in range(n_frames):
        boxes = []
        for pid, start, length, a, b, (p0, plen) in people:
            k = f - start
            if not 0 <= k < length:
                continue
            progress = (k if k < p0 else max(p0, k - plen)) / max(1, length - plen)
            x, y = a + (b - a) * min(1.0, progress) + rng.normal(0, jitter, 2)
            visit = f"v-{pid}" if pid % 3 == 0 and k >= 10 else None
            boxes.append(box(pid, (float(x), float(y)), visit_id=visit))
        frames.append(frame(f, f / fps, boxes))
    return frames


def ends_of(frames: Sequence[TrackedFrame]) -> dict[int, list[int]]:
    """Frame index -> track ids last seen on it."""
    last: dict[int, int] = {}
    for i, f in enumerate(frames):
        for b in f.tracks:
            last[b.track_id] = i
    out: dict[int, list[int]] = {}
    for tid, i in last.items():
        out.setdefault(i, []).append(tid)
    return out
