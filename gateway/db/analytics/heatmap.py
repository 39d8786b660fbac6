"""Heatmaps: per-minute grids summed per camera-hour and camera-day at ingest, and the
sum over a time range.

A heatmap.grid is one camera-minute of floor use, row-major rows x cols: person-seconds
per cell and the mean foot-point velocity (flow) of the cell. `add_grids` adds the grids
that were new in an ingest batch to heatmap_hour and heatmap_day in the same transaction
(so a redelivered grid, not new, adds nothing); flows are kept as velocity x samples sums
so that any sum of them divides back into a mean. `summed` adds the hours of a range
(whole days from heatmap_day): person-seconds summed, flow averaged over its samples.
Only grids of the newest shape in the range count (the grid size is an engine setting; a
change would otherwise mix cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg
import numpy as np
from numpy.typing import NDArray

from gateway.db.analytics.buckets import Width, cover, floor

_TABLES: Final = {Width.HOUR: "heatmap_hour", Width.DAY: "heatmap_day"}


@dataclass(frozen=True)
class Grid:
    """One heatmap.grid event's cells (row-major)."""

    store_id: str
    camera_id: str
    minute_start: datetime
    cols: int
    rows: int
    samples: Sequence[int]
    person_seconds: Sequence[float]
    flow_dx: Sequence[float]
    flow_dy: Sequence[float]
    flow_samples: Sequence[int]


@dataclass
class _Sum:
    grids: int = 0
    samples: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    person_seconds: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    flow_dx_sum: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    flow_dy_sum: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    flow_samples: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, grid: Grid) -> None:
        n = np.asarray(grid.flow_samples, dtype=np.int64)
        parts = (
            np.asarray(grid.samples, dtype=np.int64),
            np.asarray(grid.person_seconds, dtype=np.float64),
            np.asarray(grid.flow_dx, dtype=np.float64) * n,
            np.asarray(grid.flow_dy, dtype=np.float64) * n,
            n,
        )
        if self.grids == 0:
            (
                self.samples,
                self.person_seconds,
                self.flow_dx_sum,
                self.flow_dy_sum,
                self.flow_samples,
            ) = parts
        else:
            self.samples = self.samples + parts[0]
            self.person_seconds = self.person_seconds + parts[1]
            self.flow_dx_sum = self.flow_dx_sum + parts[2]
            self.flow_dy_sum = self.flow_dy_sum + parts[3]
            self.flow_samples = self.flow_samples + parts[4]
        self.grids += 1


def _elementwise(column: str) -> str:
    return (
        f"{column} = ARRAY(SELECT a + b FROM unnest(h.{column}, EXCLUDED.{column})"
        " WITH ORDINALITY AS u(a, b, i) ORDER BY i)"
    )


_COLUMNS: Final = ("samples", "person_seconds", "flow_dx_sum", "flow_dy_sum", "flow_samples")


def _upsert_sql(table: str) -> str:
    sets = ",\n    ".join(_elementwise(c) for c in _COLUMNS)
    return f"""
INSERT INTO {table} AS h (store_id, camera_id, bucket, cols, rows, grids, samples,
    person_seconds, flow_dx_sum, flow_dy_sum, flow_samples)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (store_id, camera_id, bucket, cols, rows) DO UPDATE SET
    grids = h.grids + EXCLUDED.grids,
    {sets}
"""


_UPSERT: Final = {width: _upsert_sql(table) for width, table in _TABLES.items()}


async def add_grids(conn: asyncpg.Connection, grids: Sequence[Grid]) -> None:
    """Add new grids to the hourly and daily sums (call in the ingest transaction)."""
    for width in (Width.HOUR, Width.DAY):
        sums: dict[tuple[str, str, datetime, int, int], _Sum] = {}
        for grid in grids:
            key = (grid.store_id, grid.camera_id, floor(grid.minute_start, width))
            sums.setdefault((*key, grid.cols, grid.rows), _Sum()).add(grid)
        # Sorted: concurrent ingest transactions lock the rows in the same order.
        await conn.executemany(
            _UPSERT[width],
            [
                (
                    *key,
                    s.grids,
                    s.samples.tolist(),
                    s.person_seconds.tolist(),
                    s.flow_dx_sum.tolist(),
                    s.flow_dy_sum.tolist(),
                    s.flow_samples.tolist(),
                )
                for key, s in sorted(sums.items(), key=lambda item: item[0])
            ],
        )


@dataclass(frozen=True)
class Heatmap:
    camera_id: str
    cols: int
    rows: int
    grids: int
    person_seconds: list[float]
    flow_dx: list[float]
    flow_dy: list[float]


async def summed(
    conn: asyncpg.Connection, store_id: str, camera_id: str, start: datetime, end: datetime
) -> Heatmap | None:
    """The camera's grids of the hours starting in [start, end) summed; None if none."""
    parts = cover(start, end, (Width.DAY, Width.HOUR))
    if not parts:
        return None
    selects: list[str] = []
    args: list[object] = [store_id, camera_id]
    for part in parts:
        args += [part.start, part.end]
        selects.append(
            "SELECT bucket, cols, rows, grids, person_seconds, flow_dx_sum, flow_dy_sum,"
            f" flow_samples FROM {_TABLES[part.width]}"
            " WHERE store_id = $1 AND camera_id = $2"
            f" AND bucket >= ${len(args) - 1} AND bucket < ${len(args)}"
        )
    rows = await conn.fetch(" UNION ALL ".join(selects), *args)
    if not rows:
        return None
    newest = max(rows, key=lambda r: r["bucket"])
    shape = (newest["cols"], newest["rows"])
    same = [r for r in rows if (r["cols"], r["rows"]) == shape]
    person_seconds = np.sum([np.asarray(r["person_seconds"]) for r in same], axis=0)
    dx = np.sum([np.asarray(r["flow_dx_sum"]) for r in same], axis=0)
    dy = np.sum([np.asarray(r["flow_dy_sum"]) for r in same], axis=0)
    n = np.sum([np.asarray(r["flow_samples"], dtype=np.float64) for r in same], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        flow_dx = np.where(n > 0, dx / n, 0.0)
        flow_dy = np.where(n > 0, dy / n, 0.0)
    return Heatmap(
        camera_id=camera_id,
        cols=shape[0],
        rows=shape[1],
        grids=sum(int(r["grids"]) for r in same),
        person_seconds=[float(v) for v in person_seconds],
        flow_dx=[float(v) for v in flow_dx],
        flow_dy=[float(v) for v in flow_dy],
    )
