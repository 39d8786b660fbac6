"""MOT-format ground truth as engine input, for accuracy checks against real trajectories.

MOT Challenge `gt.txt` rows are `frame, id, left, top, width, height, conf, ...` with
1-based frames and boxes in pixels. Rows with conf 0 are "ignore" regions in the MOT
convention and are skipped; the remaining columns (world coordinates in the TUD files,
class and visibility in later MOT releases) are not needed here.

The files carry no frame size or rate, so the caller states them (the sequence's
`seqinfo.ini`); frame k is at `start + (k - 1) / fps`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import EngineEvent
from analytics.engine.observations import TrackBox, TrackedFrame

REPLAY_START = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MotRow:
    """One ground-truth box: 1-based frame, object id, (x1, y1, x2, y2) pixels."""

    frame: int
    object_id: int
    xyxy: tuple[float, float, float, float]


def parse_mot(lines: Iterable[str]) -> list[MotRow]:
    """Rows of a MOT gt/result file, sorted by frame then id."""
    rows = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = [f.strip() for f in text.split(",")]
        if len(fields) < 6:
            raise ValueError(f"line {number}: expected at least 6 comma-separated fields")
        try:
            frame = int(float(fields[0]))
            object_id = int(float(fields[1]))
            left, top, w, h = (float(v) for v in fields[2:6])
            conf = float(fields[6]) if len(fields) > 6 else 1.0
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
        if conf == 0.0 or w <= 0.0 or h <= 0.0:
            continue
        rows.append(MotRow(frame, object_id, (left, top, left + w, top + h)))
    rows.sort(key=lambda r: (r.frame, r.object_id))
    return rows


@dataclass(frozen=True, slots=True)
class GroundTruthSequence:
    """A sequence as TrackedFrames (one per frame number, empty frames included) plus,
    per object, the last frame it appears on (where the tracker would end it)."""

    camera_id: str
    fps: float
    width: int
    height: int
    frames: tuple[TrackedFrame, ...]
    last_frame: dict[int, int]

    def time_of(self, frame: int) -> datetime:
        return self.frames[frame - 1].at


def to_sequence(
    rows: Sequence[MotRow],
    camera_id: str,
    fps: float,
    width: int,
    height: int,
    start: datetime = REPLAY_START,
) -> GroundTruthSequence:
    """Ground-truth rows as engine input, object ids as track ids, score 1."""
    n_frames = max((r.frame for r in rows), default=0)
    per_frame: list[list[TrackBox]] = [[] for _ in range(n_frames)]
    last: dict[int, int] = {}
    for r in rows:
        per_frame[r.frame - 1].append(TrackBox(r.object_id, r.xyxy, 1.0))
        last[r.object_id] = max(last.get(r.object_id, 0), r.frame)
    frames = tuple(
        TrackedFrame(
            camera_id=camera_id,
            frame_seq=k + 1,
            at=start + timedelta(seconds=k / fps),
            width=width,
            height=height,
            tracks=tuple(boxes),
        )
        for k, boxes in enumerate(per_frame)
    )
    return GroundTruthSequence(camera_id, fps, width, height, frames, dict(sorted(last.items())))


def load_mot(
    path: Path,
    camera_id: str,
    fps: float,
    width: int,
    height: int,
    start: datetime = REPLAY_START,
) -> GroundTruthSequence:
    """Read a MOT `gt.txt` as engine input."""
    with path.open(encoding="utf-8") as handle:
        return to_sequence(parse_mot(handle), camera_id, fps, width, height, start)


def replay(engine: StoreAnalytics, sequence: GroundTruthSequence) -> list[EngineEvent]:
    """Run a sequence through an engine: each frame, then the ends of the objects last
    seen on it (ground truth knows exactly when a track ends), then a final flush."""
    ends: dict[int, list[int]] = {}
    for object_id, last in sequence.last_frame.items():
        ends.setdefault(last, []).append(object_id)
    out: list[EngineEvent] = []
    for frame in sequence.frames:
        out.extend(engine.process(frame))
        for object_id in ends.get(frame.frame_seq, ()):
            out.extend(engine.end_track(sequence.camera_id, object_id, frame.at))
    if sequence.frames:
        out.extend(engine.flush(sequence.frames[-1].at))
    return out
