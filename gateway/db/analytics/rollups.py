"""Plain PostgreSQL: the analytics rollup tables, refreshed incrementally.

On TimescaleDB these names are continuous aggregates (sql/timescale/
0005_analytics_aggregates.sql); here they are tables (sql/postgres/
0002_analytics_rollups.sql) that `refresh_analytics_rollups` brings up to date the way
`camera_minute` is (gateway/db/maintenance.py): every bucket that received raw rows since
the rollup's watermark (by `ingested_at`, minus an overlap for ingest transactions still
open at the previous refresh) is recomputed from all of its raw rows and upserted. The
first refresh (no watermark yet) aggregates the whole raw table in one pass instead. So a
late or replayed event lands in its own bucket, and is counted once (the raw tables are
idempotent on event_id); the numbers are those of the continuous aggregates, which
tests/sql/test_analytics_rollups.py checks by running their SELECTs here.

Each rollup's aggregates are written once below, as SQL over the raw row `s` and its bucket
`t.bucket`, and mirror the continuous aggregate's: `first(v, t)` / `last(v, t)` become
ordered array_agg (occupancy changes of one zone never share a timestamp: the engine
emits at most one per zone per frame). The compact dwell histograms (`HISTOGRAMS`) are
refreshed last, from the per-dwell-bucket rollups, for the same touched buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import asyncpg

from gateway.db.analytics import locks
from gateway.db.analytics.buckets import Width

REFRESH_OVERLAP: Final = timedelta(minutes=1)
# A refresh after a long ingest backlog (or the first one after a bulk load) may take
# minutes: longer than the pool's per-statement timeout, which is for API requests.
STATEMENT_TIMEOUT_S: Final = 900.0


@dataclass(frozen=True)
class Rollup:
    """One rollup table: its raw source, bucket width and aggregates."""

    name: str
    source: str
    time_column: str
    width: Width
    keys: tuple[str, ...]
    # (column, SQL expression over `s` and `t.bucket`), in the table's column order
    aggregates: tuple[tuple[str, str], ...]
    # an extra group column computed from the raw row: (column, expression over `s`)
    group_by: tuple[str, str] | None = None

    def rebuild_sql(self) -> str:
        """Every bucket from all raw rows at once (the first refresh: after a bulk load a
        bucket-by-bucket join would visit every bucket one index lookup at a time)."""
        keys = ", ".join(f"s.{k}" for k in self.keys)
        interval = f"INTERVAL '{self.width.sql}'"
        bucket = f"date_bin({interval}, s.{self.time_column}, TIMESTAMPTZ '2000-01-03')"
        columns = [*self.keys, "bucket"]
        select = [keys, f"{bucket} AS bucket"]
        group = [keys, bucket]
        conflict = [*self.keys, "bucket"]
        if self.group_by is not None:
            column, expression = self.group_by
            columns.append(column)
            select.append(f"{expression} AS {column}")
            group.append(expression)
            conflict.append(column)
        columns += [c for c, _ in self.aggregates]
        select += [f"{e.replace('t.bucket', bucket)} AS {c}" for c, e in self.aggregates]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c, _ in self.aggregates)
        return f"""
INSERT INTO {self.name} ({", ".join(columns)})
SELECT {", ".join(select)}
FROM {self.source} s
WHERE s.ingested_at < $1
GROUP BY {", ".join(group)}
ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {updates}
"""

    def refresh_sql(self) -> str:
        keys = ", ".join(self.keys)
        t_keys = ", ".join(f"t.{k}" for k in self.keys)
        join = " AND ".join(f"s.{k} = t.{k}" for k in self.keys)
        interval = f"INTERVAL '{self.width.sql}'"
        bucket = f"date_bin({interval}, {self.time_column}, TIMESTAMPTZ '2000-01-03')"
        columns = [*self.keys, "bucket"]
        select = [t_keys, "t.bucket"]
        group = [t_keys, "t.bucket"]
        conflict = [*self.keys, "bucket"]
        if self.group_by is not None:
            column, expression = self.group_by
            columns.append(column)
            select.append(f"{expression} AS {column}")
            group.append(expression)
            conflict.append(column)
        columns += [c for c, _ in self.aggregates]
        select += [f"{e} AS {c}" for c, e in self.aggregates]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c, _ in self.aggregates)
        return f"""
WITH touched AS (
    SELECT DISTINCT {keys}, {bucket} AS bucket
    FROM {self.source}
    WHERE ingested_at >= $1 AND ingested_at < $2
)
INSERT INTO {self.name} ({", ".join(columns)})
SELECT {", ".join(select)}
FROM touched t
JOIN {self.source} s
  ON {join}
 AND s.{self.time_column} >= t.bucket
 AND s.{self.time_column} < t.bucket + {interval}
 AND date_bin({interval}, s.{self.time_column}, TIMESTAMPTZ '2000-01-03') = t.bucket
GROUP BY {", ".join(group)}
ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {updates}
"""


_LINE_KEYS: Final = ("store_id", "camera_id", "line_id")
_ZONE_KEYS: Final = ("store_id", "camera_id", "zone_id")

_FOOTFALL: Final = (
    ("entries", "sum(CASE WHEN s.direction = 'in' THEN 1 ELSE 0 END)"),
    ("exits", "sum(CASE WHEN s.direction = 'out' THEN 1 ELSE 0 END)"),
    (
        "store_entries",
        "sum(CASE WHEN s.direction = 'in' AND s.counts_store_entry THEN 1 ELSE 0 END)",
    ),
    (
        "store_exits",
        "sum(CASE WHEN s.direction = 'out' AND s.counts_store_entry THEN 1 ELSE 0 END)",
    ),
)


def _occupancy(width_s: int) -> tuple[tuple[str, str], ...]:
    return (
        ("changes", "count(*)"),
        ("level_start", "(array_agg(s.previous ORDER BY s.occurred_at, s.event_id))[1]"),
        ("level_end", "(array_agg(s.count ORDER BY s.occurred_at DESC, s.event_id DESC))[1]"),
        (
            "weighted",
            f"sum((s.count - s.previous)::double precision"
            f" * ({width_s} - date_part('epoch', s.occurred_at - t.bucket)))",
        ),
        ("peak", "max(s.count)"),
    )


_DWELL: Final = (("stays", "count(*)"), ("dwell_sum", "sum(s.dwell_s)"))
_QUEUE: Final = (
    ("samples", "count(*)"),
    ("length_sum", "sum(s.length)"),
    ("length_max", "max(s.length)"),
    ("wait_samples", "count(s.estimated_wait_s)"),
    ("wait_sum", "sum(s.estimated_wait_s)"),
)
_ABANDONED: Final = (("abandoned", "count(*)"),)
_DWELL_GROUP: Final = ("dwell_bucket", "dwell_bucket(s.dwell_s)")

_M, _Q, _H, _D = Width.MINUTE, Width.FIFTEEN_MINUTES, Width.HOUR, Width.DAY

ROLLUPS: Final = (
    Rollup("footfall_15m", "line_crossings", "crossed_at", _Q, _LINE_KEYS, _FOOTFALL),
    Rollup("footfall_hour", "line_crossings", "crossed_at", _H, _LINE_KEYS, _FOOTFALL),
    Rollup("footfall_day", "line_crossings", "crossed_at", _D, _LINE_KEYS, _FOOTFALL),
    Rollup(
        "zone_occupancy_minute",
        "zone_occupancy_changes",
        "occurred_at",
        _M,
        _ZONE_KEYS,
        _occupancy(_M.value),
    ),
    Rollup(
        "zone_occupancy_hour",
        "zone_occupancy_changes",
        "occurred_at",
        _H,
        _ZONE_KEYS,
        _occupancy(_H.value),
    ),
    Rollup("zone_dwell_hour", "zone_stays", "exited_at", _H, _ZONE_KEYS, _DWELL, _DWELL_GROUP),
    Rollup("zone_dwell_day", "zone_stays", "exited_at", _D, _ZONE_KEYS, _DWELL, _DWELL_GROUP),
    Rollup(
        "zone_dwell_week", "zone_stays", "exited_at", Width.WEEK, _ZONE_KEYS, _DWELL, _DWELL_GROUP
    ),
    Rollup("queue_minute", "queue_snapshots", "occurred_at", _M, _ZONE_KEYS, _QUEUE),
    Rollup("queue_hour", "queue_snapshots", "occurred_at", _H, _ZONE_KEYS, _QUEUE),
    Rollup("queue_abandoned_minute", "queue_abandonments", "left_at", _M, _ZONE_KEYS, _ABANDONED),
    Rollup("queue_abandoned_hour", "queue_abandonments", "left_at", _H, _ZONE_KEYS, _ABANDONED),
)


@dataclass(frozen=True)
class Histogram:
    """A compact dwell histogram table (sql/postgres/0009_dwell_histogram.sql): one row
    per zone and bucket, built from the per-dwell-bucket rollup `source` of the same
    width (the TimescaleDB continuous aggregates do the same over theirs)."""

    name: str
    source: str
    width: Width

    _COLUMNS = "store_id, camera_id, zone_id, bucket, stays, dwell_sum, dwell_buckets, counts"
    _SELECT = (
        "SELECT h.store_id, h.camera_id, h.zone_id, h.bucket, sum(h.stays)::bigint,"
        " sum(h.dwell_sum), array_agg(h.dwell_bucket ORDER BY h.dwell_bucket),"
        " array_agg(h.stays ORDER BY h.dwell_bucket)"
    )
    _UPSERT = (
        "GROUP BY h.store_id, h.camera_id, h.zone_id, h.bucket"
        " ON CONFLICT (store_id, camera_id, zone_id, bucket) DO UPDATE SET"
        " stays = EXCLUDED.stays, dwell_sum = EXCLUDED.dwell_sum,"
        " dwell_buckets = EXCLUDED.dwell_buckets, counts = EXCLUDED.counts"
    )

    def rebuild_sql(self) -> str:
        return (
            f"INSERT INTO {self.name} ({self._COLUMNS}) {self._SELECT}"
            f" FROM {self.source} h {self._UPSERT}"
        )

    def refresh_sql(self) -> str:
        """The buckets that received stays (by ingested_at) in [$1, $2): their source
        rows were just rewritten by the rollup refresh in the same transaction."""
        interval = f"INTERVAL '{self.width.sql}'"
        return f"""
WITH touched AS (
    SELECT DISTINCT store_id, camera_id, zone_id,
           date_bin({interval}, exited_at, TIMESTAMPTZ '2000-01-03') AS bucket
    FROM zone_stays
    WHERE ingested_at >= $1 AND ingested_at < $2
)
INSERT INTO {self.name} ({self._COLUMNS})
{self._SELECT}
FROM touched t
JOIN {self.source} h
  ON h.store_id = t.store_id AND h.camera_id = t.camera_id AND h.zone_id = t.zone_id
 AND h.bucket = t.bucket
{self._UPSERT}
"""


HISTOGRAMS: Final = (
    Histogram("zone_dwell_hist_hour", "zone_dwell_hour", _H),
    Histogram("zone_dwell_hist_day", "zone_dwell_day", _D),
    Histogram("zone_dwell_hist_week", "zone_dwell_week", Width.WEEK),
)
_SQL: Final = {r.name: r.refresh_sql() for r in ROLLUPS}
_REBUILD_SQL: Final = {r.name: r.rebuild_sql() for r in ROLLUPS}
_SQL.update({h.name: h.refresh_sql() for h in HISTOGRAMS})
_REBUILD_SQL.update({h.name: h.rebuild_sql() for h in HISTOGRAMS})
_NAMES: Final = (*(r.name for r in ROLLUPS), *(h.name for h in HISTOGRAMS))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def refresh_analytics_rollups(conn: asyncpg.Connection) -> dict[str, int]:
    """Plain PostgreSQL: bring every analytics rollup up to date, in one transaction
    (concurrent refreshes take turns); returns the buckets rewritten per rollup."""
    rewritten: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", locks.ROLLUPS)
        until: datetime = await conn.fetchval("SELECT clock_timestamp()")
        rows = await conn.fetch(
            "SELECT name, watermark FROM rollup_state WHERE name = ANY($1::text[])",
            list(_NAMES),
        )
        marks = {row["name"]: row["watermark"] for row in rows}
        # The histograms come after the per-dwell-bucket rollups they are built from.
        for name in _NAMES:
            since = marks.get(name)
            if since is None:
                rebuild = _REBUILD_SQL[name]
                args: tuple[datetime, ...] = (until,) if "$1" in rebuild else ()
                status = await conn.execute(rebuild, *args, timeout=STATEMENT_TIMEOUT_S)
            else:
                status = await conn.execute(
                    _SQL[name], since - REFRESH_OVERLAP, until, timeout=STATEMENT_TIMEOUT_S
                )
            rewritten[name] = _count(status)
        await conn.executemany(
            """
            INSERT INTO rollup_state (name, watermark) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark
            """,
            [(name, until) for name in _NAMES],
        )
    return rewritten
