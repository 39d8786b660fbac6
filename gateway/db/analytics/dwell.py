"""Dwell per zone: stays, mean, and p50/p90 from the dwell histogram.

The rollups (zone_dwell_hour / _day / _week) count stays per log-spaced dwell bucket (the SQL
function dwell_bucket: [0, 1) s, then edges growing by 2^(1/16)) by the hour or day they
ended in; the mean is exact (sum / count). Queries read their compact form,
zone_dwell_hist_hour / _day / _week (sql/*/0009_dwell_histogram.sql): one row per zone and
hour, day or week holding the whole histogram as parallel arrays (dwell buckets, stays),
the same counts in ~1/100 of the rows, so a month of 48 zones reads ~300 rows. A
percentile is interpolated linearly inside the bucket that holds its rank, the same way
whatever rows hold the histogram (whole weeks, Monday to Monday, and days of a range
read the coarser rows), so both dialects give the same figure; it is within 4.43% (a
bucket's relative width, 2^(1/16)-1) of the exact percentile of the stays, and within
1 s below 1 s (tests/sql/test_analytics_rollups.py checks both bounds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics.buckets import Width, cover

STEPS_PER_OCTAVE: Final = 16
LAST_BUCKET: Final = 321
_TABLES: Final = {
    Width.HOUR: "zone_dwell_hist_hour",
    Width.DAY: "zone_dwell_hist_day",
    Width.WEEK: "zone_dwell_hist_week",
}


def dwell_bucket(dwell_s: float) -> int:
    """What the SQL function dwell_bucket computes (tests compare the two)."""
    if dwell_s < 1:
        return 0
    return min(1 + math.floor(STEPS_PER_OCTAVE * math.log(dwell_s) / math.log(2)), LAST_BUCKET)


def bucket_edges(bucket: int) -> tuple[float, float]:
    """[low, high) seconds of a histogram bucket (the last one is open-ended: its width is
    taken as the one before it)."""
    if bucket == 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / STEPS_PER_OCTAVE), 2 ** (bucket / STEPS_PER_OCTAVE)


def interpolate(bucket: int, rank: float, below: int, count: int) -> float:
    """Where rank `rank` falls in `bucket`, which holds `count` stays above `below`."""
    low, high = bucket_edges(bucket)
    return low + (high - low) * (rank - below) / count


def percentile(histogram: Sequence[tuple[int, int]], q: float) -> float | None:
    """The q-quantile (0 < q <= 1) of stays counted per bucket ((bucket, count), any
    order), interpolated linearly inside the bucket that holds rank q * total."""
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket, count in sorted(histogram):
        if count and seen + count >= rank:
            return interpolate(bucket, rank, seen, count)
        seen += count
    return bucket_edges(max(b for b, _ in histogram))[1]  # pragma: no cover (q <= 1)


@dataclass(frozen=True)
class ZoneDwell:
    camera_id: str
    zone_id: str
    visits: int
    mean_s: float
    p50_s: float
    p90_s: float


async def per_zone(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    *,
    camera_id: str | None = None,
    zone_id: str | None = None,
) -> list[ZoneDwell]:
    """Stays that ended in the hours starting in [start, end), per zone."""
    parts = cover(start, end, (Width.WEEK, Width.DAY, Width.HOUR))
    if not parts:
        return []
    selects: list[str] = []
    args: list[object] = [store_id, camera_id, zone_id]
    for part in parts:
        args += [part.start, part.end]
        selects.append(
            "SELECT camera_id, zone_id, dwell_sum, dwell_buckets, counts"
            f" FROM {_TABLES[part.width]}"
            " WHERE store_id = $1 AND ($2::text IS NULL OR camera_id = $2)"
            " AND ($3::text IS NULL OR zone_id = $3)"
            f" AND bucket >= ${len(args) - 1} AND bucket < ${len(args)}"
        )
    rows = await conn.fetch(" UNION ALL ".join(selects), *args)
    # One compact row per zone and hour/day/week: add the counts up by dwell bucket.
    histograms: dict[tuple[str, str], dict[int, int]] = {}
    sums: dict[tuple[str, str], float] = {}
    for camera, zone, dwell_sum, buckets, counts in rows:
        key = (camera, zone)
        histogram = histograms.get(key)
        if histogram is None:
            histogram = histograms[key] = {}
            sums[key] = 0.0
        sums[key] += dwell_sum
        for bucket, count in zip(buckets, counts, strict=True):
            histogram[bucket] = histogram.get(bucket, 0) + count
    out: list[ZoneDwell] = []
    for key in sorted(histograms):
        pairs = sorted(histograms[key].items())
        visits = sum(count for _, count in pairs)
        p50, p90 = percentile(pairs, 0.5), percentile(pairs, 0.9)
        assert p50 is not None and p90 is not None
        out.append(ZoneDwell(*key, visits, sums[key] / visits, p50, p90))
    return out
