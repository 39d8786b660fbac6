"""Zone occupancy: time-weighted mean and peak per bucket, and the newest count per zone.

Occupancy is a step function: a zone.occupancy event sets its level at the frame that
changed it. The rollups (zone_occupancy_minute / _hour) keep, per bucket of length L that
had changes, level_start (the level when it began), level_end, peak and `weighted`, the
sum of (count - previous) * (bucket end - change time); the integral of the level over
the bucket is L * level_start + weighted. A wider bucket S sums its base buckets' terms,
each change's weight extended to the end of S:

    integral(S) = S * level(S start) + sum_i [weighted_i + (end_i - start_i) * (S - L - offset_i)]

where offset_i is base bucket i's start minus S's start. A bucket with no change holds
the level the previous one ended with (the level before the range comes from the newest
rollup row before it; a zone never seen before is empty). The bucket in progress is
averaged over its elapsed part only (the level is known to have held until now, not
beyond). MINUTE and FIFTEEN_MINUTES read the minute rollup, HOUR and DAY the hourly one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics.buckets import Width, ceil, starts

_BASE: Final = {
    Width.MINUTE: (Width.MINUTE, "zone_occupancy_minute"),
    Width.FIFTEEN_MINUTES: (Width.MINUTE, "zone_occupancy_minute"),
    Width.HOUR: (Width.HOUR, "zone_occupancy_hour"),
    Width.DAY: (Width.HOUR, "zone_occupancy_hour"),
}


@dataclass(frozen=True)
class OccupancyPoint:
    bucket: datetime
    camera_id: str
    zone_id: str
    mean: float
    peak: int


@dataclass(frozen=True)
class CurrentOccupancy:
    camera_id: str
    zone_id: str
    count: int
    capacity: int | None
    at: datetime


@dataclass(frozen=True)
class _Bucket:
    level_start: int
    level_end: int
    weighted: float
    peak: int


async def zones(
    conn: asyncpg.Connection, store_id: str, camera_id: str | None, zone_id: str | None
) -> list[CurrentOccupancy]:
    """Every zone that has reported occupancy, with its newest count."""
    rows = await conn.fetch(
        """
        SELECT camera_id, zone_id, count, capacity, at FROM zone_occupancy_current
        WHERE store_id = $1 AND ($2::text IS NULL OR camera_id = $2)
          AND ($3::text IS NULL OR zone_id = $3)
        ORDER BY camera_id, zone_id
        """,
        store_id,
        camera_id,
        zone_id,
    )
    return [
        CurrentOccupancy(r["camera_id"], r["zone_id"], r["count"], r["capacity"], r["at"])
        for r in rows
    ]


def point_count(zone_count: int, start: datetime, end: datetime, width: Width) -> int:
    """How many points a series has (to refuse oversized ones before reading)."""
    first = ceil(start, width)
    buckets = 0 if first >= end else int((end - first) / width.delta) + 1
    return zone_count * buckets


async def series(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    width: Width,
    now: datetime,
    *,
    camera_id: str | None = None,
    zone_id: str | None = None,
) -> list[OccupancyPoint]:
    """Mean and peak occupancy per zone per bucket starting in [start, end) (and not after
    `now`), every bucket present, ordered by zone then time."""
    base, table = _BASE[width]
    known = await zones(conn, store_id, camera_id, zone_id)
    if not known:
        return []
    lo = ceil(start, width)
    before = await conn.fetch(
        f"""
        SELECT z.camera_id, z.zone_id,
               (SELECT b.level_end FROM {table} b
                WHERE b.store_id = $1 AND b.camera_id = z.camera_id AND b.zone_id = z.zone_id
                  AND b.bucket < $4
                ORDER BY b.bucket DESC LIMIT 1) AS level
        FROM unnest($2::text[], $3::text[]) AS z(camera_id, zone_id)
        """,
        store_id,
        [z.camera_id for z in known],
        [z.zone_id for z in known],
        lo,
    )
    level_before = {(r["camera_id"], r["zone_id"]): r["level"] or 0 for r in before}
    width_s, base_s = width.value, base.value
    rows = await conn.fetch(
        f"""
        SELECT camera_id, zone_id,
               date_bin(INTERVAL '{width.sql}', bucket, TIMESTAMPTZ '2000-01-03') AS span,
               (array_agg(level_start ORDER BY bucket))[1] AS level_start,
               (array_agg(level_end ORDER BY bucket DESC))[1] AS level_end,
               sum(weighted + (level_end - level_start)::double precision
                   * ({width_s - base_s} - date_part('epoch', bucket
                       - date_bin(INTERVAL '{width.sql}', bucket, TIMESTAMPTZ '2000-01-03'))))
                   AS weighted,
               max(peak) AS peak
        FROM {table}
        WHERE store_id = $1 AND ($2::text IS NULL OR camera_id = $2)
          AND ($3::text IS NULL OR zone_id = $3)
          AND bucket >= $4 AND bucket < $5
        GROUP BY camera_id, zone_id, span
        """,
        store_id,
        camera_id,
        zone_id,
        lo,
        ceil(end, width),
    )
    spans = {
        (r["camera_id"], r["zone_id"], r["span"]): _Bucket(
            r["level_start"], r["level_end"], float(r["weighted"]), r["peak"]
        )
        for r in rows
    }
    buckets = [b for b in starts(start, end, width) if b <= now]
    points: list[OccupancyPoint] = []
    for zone in known:
        key = (zone.camera_id, zone.zone_id)
        level = level_before.get(key, 0)
        for bucket in buckets:
            found = spans.get((*key, bucket))
            if found is None:
                points.append(OccupancyPoint(bucket, *key, float(level), level))
                continue
            integral = width_s * found.level_start + found.weighted
            elapsed = min(width_s, (now - bucket).total_seconds())
            if elapsed < width_s:
                # The level after the last change held until now, not to the bucket's end.
                integral -= found.level_end * (width_s - elapsed)
            mean = integral / elapsed if elapsed > 0 else float(found.level_end)
            peak = max(found.level_start, found.peak)
            points.append(OccupancyPoint(bucket, *key, mean, peak))
            level = found.level_end
    return points
