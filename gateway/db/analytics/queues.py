"""Queues per bucket: mean and peak length, mean estimated wait, abandonments.

The queue rollups count the zone's snapshots (one per queue_snapshot_interval_s of frame
time, so their mean is the time mean), summed lengths, the peak, and the estimated waits
(snapshots before a service was seen have none); abandonments are counted by the bucket
someone left the queue in. A bucket appears when it has snapshots or abandonments.
MINUTE and FIFTEEN_MINUTES read the minute rollups, HOUR and DAY the hourly ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics.buckets import Width, ceil

_TABLES: Final = {
    Width.MINUTE: ("queue_minute", "queue_abandoned_minute"),
    Width.FIFTEEN_MINUTES: ("queue_minute", "queue_abandoned_minute"),
    Width.HOUR: ("queue_hour", "queue_abandoned_hour"),
    Width.DAY: ("queue_hour", "queue_abandoned_hour"),
}


@dataclass(frozen=True)
class QueuePoint:
    bucket: datetime
    camera_id: str
    zone_id: str
    mean_length: float | None
    max_length: int | None
    mean_wait_s: float | None
    abandoned: int


async def series(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    width: Width,
    *,
    camera_id: str | None = None,
    zone_id: str | None = None,
) -> list[QueuePoint]:
    """Per queue zone per bucket starting in [start, end), ordered by zone then time."""
    snapshots, abandonments = _TABLES[width]
    span = f"date_bin(INTERVAL '{width.sql}', bucket, TIMESTAMPTZ '2000-01-03')"
    filters = (
        "store_id = $1 AND ($2::text IS NULL OR camera_id = $2)"
        " AND ($3::text IS NULL OR zone_id = $3) AND bucket >= $4 AND bucket < $5"
    )
    rows = await conn.fetch(
        f"""
        WITH q AS (
            SELECT camera_id, zone_id, {span} AS span, sum(samples) AS samples,
                   sum(length_sum) AS length_sum, max(length_max) AS length_max,
                   sum(wait_samples) AS wait_samples, sum(wait_sum) AS wait_sum
            FROM {snapshots} WHERE {filters}
            GROUP BY camera_id, zone_id, span
        ), a AS (
            SELECT camera_id, zone_id, {span} AS span, sum(abandoned) AS abandoned
            FROM {abandonments} WHERE {filters}
            GROUP BY camera_id, zone_id, span
        )
        SELECT coalesce(q.camera_id, a.camera_id) AS camera_id,
               coalesce(q.zone_id, a.zone_id) AS zone_id,
               coalesce(q.span, a.span) AS span,
               q.samples, q.length_sum, q.length_max, q.wait_samples, q.wait_sum,
               coalesce(a.abandoned, 0) AS abandoned
        FROM q FULL JOIN a USING (camera_id, zone_id, span)
        ORDER BY 1, 2, 3
        """,
        store_id,
        camera_id,
        zone_id,
        ceil(start, width),
        ceil(end, width),
    )
    points: list[QueuePoint] = []
    for r in rows:
        samples = int(r["samples"] or 0)
        waits = int(r["wait_samples"] or 0)
        points.append(
            QueuePoint(
                bucket=r["span"],
                camera_id=r["camera_id"],
                zone_id=r["zone_id"],
                mean_length=int(r["length_sum"]) / samples if samples else None,
                max_length=r["length_max"],
                mean_wait_s=float(r["wait_sum"]) / waits if waits else None,
                abandoned=int(r["abandoned"]),
            )
        )
    return points
