"""Reads over the journeys (gateway/db/analytics/journeys.py): visits page by page,
visit counts per bucket and zone-to-zone flows (funnels: gateway/db/analytics/funnels.py).

A visit belongs to the range its start falls in. Counts and flows come from the
per-quarter-hour tables the journey refresh rewrites; hours and days (UTC, or a given time
zone's, every offset being a multiple of 15 minutes) are sums of quarter hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics.buckets import Width
from gateway.db.reads import Key, Page

_TRUNC: Final = {Width.HOUR: "hour", Width.DAY: "day"}


async def visits_page(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    limit: int,
    after: Key | None,
) -> Page:
    """Journeys that started in [start, end), newest first (keyset on started_at, id)."""
    rows = await conn.fetch(
        """
        SELECT journey_id, linked, customer_id, camera_ids, started_at, entered_at, ended_at,
               duration_s, path
        FROM journeys
        WHERE store_id = $1 AND started_at >= $2 AND started_at < $3
          AND ($4::timestamptz IS NULL OR (started_at, journey_id) < ($4, $5::uuid))
        ORDER BY started_at DESC, journey_id DESC
        LIMIT $6
        """,
        store_id,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return Page(rows[:limit], len(rows) > limit)


@dataclass(frozen=True)
class VisitCount:
    bucket: datetime
    visits: int
    entered: int


async def counts(
    conn: asyncpg.Connection,
    store_id: str,
    start: datetime,
    end: datetime,
    width: Width,
    time_zone: str | None = None,
) -> list[VisitCount]:
    """Visits per bucket starting in [start, end) (buckets without any are left out)."""
    zone = time_zone or "UTC"
    local = f"date_trunc('{_TRUNC[width]}', bucket, $4)"
    rows = await conn.fetch(
        f"""
        SELECT {local} AS bucket, sum(visits) AS visits, sum(entered) AS entered
        FROM journey_counts
        WHERE store_id = $1 AND bucket >= date_trunc('{_TRUNC[width]}', $2, $4) AND bucket < $3
        GROUP BY 1 HAVING {local} >= $2
        ORDER BY 1
        """,
        store_id,
        start,
        end,
        zone,
    )
    return [VisitCount(r["bucket"], int(r["visits"]), int(r["entered"])) for r in rows]


@dataclass(frozen=True)
class Flow:
    source: str
    target: str
    visits: int


async def flows(
    conn: asyncpg.Connection, store_id: str, start: datetime, end: datetime
) -> list[Flow]:
    """Zone-to-zone transitions of the visits that started in the quarter hours starting
    in [start, end), most travelled first."""
    rows = await conn.fetch(
        """
        SELECT source, target, sum(visits) AS visits FROM journey_flows
        WHERE store_id = $1 AND bucket >= $2 AND bucket < $3
        GROUP BY source, target ORDER BY 3 DESC, 1, 2
        """,
        store_id,
        start,
        end,
    )
    return [Flow(r["source"], r["target"], int(r["visits"])) for r in rows]
