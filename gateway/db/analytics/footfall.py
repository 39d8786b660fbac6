"""Footfall: line crossings in and out, per line and bucket, and the store's totals.

Rows come from the footfall rollups (footfall_15m / _hour / _day). Buckets without a
crossing have no row and are left out of a series. With a time zone, hours and days are
that zone's (every zone's offset is a multiple of 15 minutes, so they are sums of
quarter-hour buckets, exactly); without one they are UTC's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics.buckets import Width, cover

_TABLES: Final = {
    Width.FIFTEEN_MINUTES: "footfall_15m",
    Width.HOUR: "footfall_hour",
    Width.DAY: "footfall_day",
}
_TRUNC: Final = {Width.HOUR: "hour", Width.DAY: "day"}


@dataclass(frozen=True)
class FootfallPoint:
    bucket: datetime
    camera_id: str
    line_id: str
    entries: int
    exits: int


@dataclass(frozen=True)
class Totals:
    entries: int
    exits: int


async def series(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    width: Width,
    *,
    line_id: str | None = None,
    camera_id: str | None = None,
    time_zone: str | None = None,
) -> list[FootfallPoint]:
    """Entries and exits per line per bucket starting in [start, end), oldest first."""
    filters = (
        "store_id = $1 AND ($2::text IS NULL OR line_id = $2)"
        " AND ($3::text IS NULL OR camera_id = $3)"
    )
    if time_zone is None or width is Width.FIFTEEN_MINUTES:
        sql = f"""
            SELECT bucket, camera_id, line_id, entries, exits FROM {_TABLES[width]}
            WHERE {filters} AND bucket >= $4 AND bucket < $5
            ORDER BY bucket, camera_id, line_id
        """
        rows = await conn.fetch(sql, store_id, line_id, camera_id, start, end)
    else:
        # Local hours and days: quarter hours grouped in the zone; a local bucket is
        # reported when it starts in the range.
        local = f"date_trunc('{_TRUNC[width]}', bucket, $6)"
        sql = f"""
            SELECT {local} AS bucket, camera_id, line_id,
                   sum(entries) AS entries, sum(exits) AS exits
            FROM footfall_15m
            WHERE {filters} AND bucket >= date_trunc('{_TRUNC[width]}', $4, $6)
              AND bucket < $5
            GROUP BY {local}, camera_id, line_id
            HAVING {local} >= $4
            ORDER BY 1, camera_id, line_id
        """
        rows = await conn.fetch(sql, store_id, line_id, camera_id, start, end, time_zone)
    return [
        FootfallPoint(r["bucket"], r["camera_id"], r["line_id"], int(r["entries"]), int(r["exits"]))
        for r in rows
        if r["entries"] or r["exits"]
    ]


async def totals(conn: asyncpg.Connection, store_id: str, start: datetime, end: datetime) -> Totals:
    """Store entries and exits (crossings of store-entry lines) in the quarter hours
    starting in [start, end), read from the coarsest rollup rows that cover them."""
    parts = cover(start, end, (Width.DAY, Width.HOUR, Width.FIFTEEN_MINUTES))
    if not parts:
        return Totals(0, 0)
    selects: list[str] = []
    args: list[object] = [store_id]
    for part in parts:
        args += [part.start, part.end]
        selects.append(
            f"SELECT store_entries, store_exits FROM {_TABLES[part.width]}"
            f" WHERE store_id = $1 AND bucket >= ${len(args) - 1} AND bucket < ${len(args)}"
        )
    row = await conn.fetchrow(
        "SELECT coalesce(sum(store_entries), 0) AS entries, coalesce(sum(store_exits), 0) AS exits"
        f" FROM ({' UNION ALL '.join(selects)}) parts",
        *args,
    )
    assert row is not None
    return Totals(int(row["entries"]), int(row["exits"]))
