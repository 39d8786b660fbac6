"""Per-camera floor heatmaps, one grid per minute of frame time.

Each observation adds its foot point to one cell of a `cols` x `rows` grid over the
frame. Three layers per cell:

- `samples`: how many foot points fell in it. Simple, but proportional to the frame rate,
  and the store node thins frames under load.
- `person_seconds`: each sample weighted by the time since the camera's previous frame
  (capped at `heatmap_max_gap_s`), i.e. how long people stood there, whatever the
  sampling rate. This is the layer to compare across cameras and hours.
- flow: the mean foot-point velocity of tracks in the cell (normalized units per second,
  from the track's previous observation when it is at most `heatmap_max_gap_s` old), so
  the dashboard can draw where people go, not just where they are.

A minute closes when the first frame of a later minute arrives (frame time, not wall
time: a replay produces the same grids), and its grid is emitted then. Minutes without
any frame produce no grid (the camera was down; a zero grid would claim nobody came).
"""

from __future__ import annotations

import math
from datetime import datetime

from analytics.engine.events import EngineEvent, HeatmapGrid, JsonValue
from analytics.engine.zones import to_datetime

_CLAMP_HI = 1.0 - 1e-9


class HeatmapAccumulator:
    """The open minute's grid for one camera."""

    __slots__ = (
        "_cells",
        "camera_id",
        "cols",
        "config_version",
        "flow_n",
        "flow_x",
        "flow_y",
        "minute",
        "rows",
        "samples",
        "seconds",
    )

    def __init__(self, camera_id: str, cols: int, rows: int) -> None:
        self.camera_id = camera_id
        self.cols = cols
        self.rows = rows
        self.config_version = 0
        self.minute: float | None = None  # POSIX start of the open minute
        self._cells = cols * rows
        self._reset()

    def _reset(self) -> None:
        n = self._cells
        self.samples = [0] * n
        self.seconds = [0.0] * n
        self.flow_x = [0.0] * n
        self.flow_y = [0.0] * n
        self.flow_n = [0] * n

    def roll(self, t: float, at: datetime, out: list[EngineEvent]) -> None:
        """Start the minute of frame time `t`, emitting the previous one if it closed."""
        minute = math.floor(t / 60.0) * 60.0
        if self.minute is None:
            self.minute = minute
        elif minute > self.minute:
            self.emit(at, out)
            self.minute = minute

    def emit(self, at: datetime, out: list[EngineEvent]) -> None:
        """Emit the open minute's grid and clear it (also used to flush at the end)."""
        if self.minute is None:
            return
        out.append(
            HeatmapGrid(
                at=at,
                config_version=self.config_version,
                camera_id=self.camera_id,
                minute_start=to_datetime(self.minute),
                cols=self.cols,
                rows=self.rows,
                samples=tuple(self.samples),
                person_seconds=tuple(self.seconds),
                flow_dx=tuple(
                    sx / n if n else 0.0 for sx, n in zip(self.flow_x, self.flow_n, strict=True)
                ),
                flow_dy=tuple(
                    sy / n if n else 0.0 for sy, n in zip(self.flow_y, self.flow_n, strict=True)
                ),
                flow_samples=tuple(self.flow_n),
            )
        )
        self.minute = None
        self._reset()

    def cell(self, x: float, y: float) -> int:
        """Row-major cell of a normalized point, clamped onto the frame."""
        if x < 0.0:
            x = 0.0
        elif x > _CLAMP_HI:
            x = _CLAMP_HI
        if y < 0.0:
            y = 0.0
        elif y > _CLAMP_HI:
            y = _CLAMP_HI
        return int(y * self.rows) * self.cols + int(x * self.cols)

    def add(self, cell: int, weight: float) -> None:
        self.samples[cell] += 1
        self.seconds[cell] += weight

    def add_flow(self, cell: int, vx: float, vy: float) -> None:
        self.flow_x[cell] += vx
        self.flow_y[cell] += vy
        self.flow_n[cell] += 1

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "cols": self.cols,
            "rows": self.rows,
            "minute": self.minute,
            "samples": list(self.samples),
            "seconds": list(self.seconds),
            "flow_x": list(self.flow_x),
            "flow_y": list(self.flow_y),
            "flow_n": list(self.flow_n),
        }

    def load(self, data: dict[str, JsonValue]) -> None:
        """Restore the open minute; a grid of another size (settings changed) is dropped."""
        if data.get("cols") != self.cols or data.get("rows") != self.rows:
            return
        minute = data["minute"]
        assert minute is None or isinstance(minute, int | float)
        self.minute = None if minute is None else float(minute)
        self.samples = _ints(data["samples"])
        self.seconds = _floats(data["seconds"])
        self.flow_x = _floats(data["flow_x"])
        self.flow_y = _floats(data["flow_y"])
        self.flow_n = _ints(data["flow_n"])


def _ints(value: JsonValue) -> list[int]:
    assert isinstance(value, list)
    out = []
    for v in value:
        assert isinstance(v, int)
        out.append(v)
    return out


def _floats(value: JsonValue) -> list[float]:
    assert isinstance(value, list)
    out = []
    for v in value:
        assert isinstance(v, int | float)
        out.append(float(v))
    return out
