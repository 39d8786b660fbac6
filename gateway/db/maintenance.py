"""What the database does not do by itself: rollups, journeys and retention.

On plain PostgreSQL (gateway/db/dialect.py) the gateway refreshes `camera_minute` every
few seconds, incrementally: it recomputes every minute that received rows since its last
watermark (by `ingested_at`, so late and replayed events count), minus an overlap that
covers ingest transactions still open at the previous refresh; the analytics rollups
(gateway/db/analytics/rollups.py) the same way. On TimescaleDB the continuous aggregates'
refresh policies do that (sql/timescale/, looking back past the max age of the stream
that feeds them). On both, the gateway keeps the journeys up to date
(gateway/db/analytics/journeys.py: a join no continuous aggregate can hold) and applies
retention with the TRINETRA_RETENTION__* settings: the time series through the SQL
function `expire_rows` (rows deleted on PostgreSQL, whole chunks dropped on TimescaleDB,
whose fixed retention policies sql/timescale/0008 removed), the plain tables (`tracks`,
`alerts`) row by row, and the analytics tables (gateway/db/analytics/retention.py).

Every statement is safe to run from several replicas at once (a transaction-level
advisory lock makes concurrent refreshes take turns).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg

from gateway.config import RetentionSettings
from gateway.db.analytics.journeys import refresh_journeys
from gateway.db.analytics.retention import apply_analytics_retention
from gateway.db.analytics.rollups import refresh_analytics_rollups
from gateway.db.database import Database
from gateway.db.dialect import Dialect
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

ROLLUP: Final = "camera_minute"
# Longest an ingest transaction may stay open and still be counted by the next refresh.
REFRESH_OVERLAP: Final = timedelta(minutes=1)
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_REFRESH_LOCK: Final = 0x726F6C6C7570  # "rollup"
# Rows deleted per statement, so retention never holds long locks.
_DELETE_CHUNK: Final = 10_000

_REFRESH_SQL: Final = """
WITH touched AS (
    SELECT DISTINCT store_id, camera_id,
           date_bin(INTERVAL '1 minute', occurred_at, TIMESTAMPTZ '2000-01-01') AS bucket
    FROM detections
    WHERE ingested_at >= $1 AND ingested_at < $2
)
INSERT INTO camera_minute (store_id, camera_id, bucket, frames, person_sum, person_max)
SELECT t.store_id, t.camera_id, t.bucket,
       count(*), sum(d.person_count), max(d.person_count)
FROM touched t
JOIN detections d
  ON d.store_id = t.store_id AND d.camera_id = t.camera_id
 AND d.occurred_at >= t.bucket AND d.occurred_at < t.bucket + INTERVAL '1 minute'
GROUP BY t.store_id, t.camera_id, t.bucket
ON CONFLICT (store_id, camera_id, bucket) DO UPDATE
    SET frames = EXCLUDED.frames,
        person_sum = EXCLUDED.person_sum,
        person_max = EXCLUDED.person_max
"""


async def refresh_rollups(conn: asyncpg.Connection) -> int:
    """Plain PostgreSQL: bring camera_minute up to date; returns minutes rewritten."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _REFRESH_LOCK)
        until: datetime = await conn.fetchval("SELECT clock_timestamp()")
        since: datetime | None = await conn.fetchval(
            "SELECT watermark FROM rollup_state WHERE name = $1", ROLLUP
        )
        start = _EPOCH if since is None else since
        status = await conn.execute(_REFRESH_SQL, start - REFRESH_OVERLAP, until)
        await conn.execute(
            """
            INSERT INTO rollup_state (name, watermark) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark
            """,
            ROLLUP,
            until,
        )
    return int(status.rsplit(" ", 1)[-1])


# Time series, expired with expire_rows() on both dialects: (table, time column, setting)
_SERIES: Final = (
    ("detections", "occurred_at", "detections_days"),
    ("track_events", "occurred_at", "track_events_days"),
    ("identity_events", "occurred_at", "identity_events_days"),
    ("camera_status_events", "occurred_at", "camera_status_days"),
    ("camera_minute", "bucket", "rollup_days"),
)
# Plain tables on both dialects, deleted row by row: (table, time column, setting)
_PLAIN: Final = (
    ("tracks", "last_seen_at", "track_events_days"),
    ("alerts", "occurred_at", "alerts_days"),
)


def _days(settings: RetentionSettings, name: str) -> int:
    days: int = getattr(settings, name)
    return days


async def apply_retention(conn: asyncpg.Connection, settings: RetentionSettings) -> dict[str, int]:
    """Expire what is past its retention, a chunk per statement; returns rows deleted per
    table (TimescaleDB drops whole chunks and reports 0 for the time series)."""
    deleted: dict[str, int] = {}
    for table, column, setting in _SERIES:
        total = 0
        while True:
            count = int(
                await conn.fetchval(
                    "SELECT expire_rows($1::regclass, $2, now() - make_interval(days => $3), $4)",
                    table,
                    column,
                    _days(settings, setting),
                    _DELETE_CHUNK,
                )
            )
            total += count
            if count < _DELETE_CHUNK:
                break
        deleted[table] = total
    for table, column, setting in _PLAIN:
        total = 0
        while True:
            status = await conn.execute(
                f"""
                DELETE FROM {table} WHERE ctid = ANY (ARRAY(
                    SELECT ctid FROM {table}
                    WHERE {column} < now() - make_interval(days => $1)
                    LIMIT {_DELETE_CHUNK}))
                """,
                _days(settings, setting),
            )
            count = int(status.rsplit(" ", 1)[-1])
            total += count
            if count < _DELETE_CHUNK:
                break
        deleted[table] = total
    return deleted


class Maintenance:
    """Runs the refresh (plain PostgreSQL) and retention loops until stopped."""

    def __init__(
        self,
        db: Database,
        dialect: Dialect,
        retention: RetentionSettings,
        metrics: GatewayMetrics,
        refresh_every_s: float,
    ) -> None:
        self._db = db
        self._dialect = dialect
        self._retention = retention
        self._metrics = metrics
        self._refresh_every = refresh_every_s
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._retention_forever(), name="retention"))
        # Rollups on plain PostgreSQL only; journeys on both dialects.
        self._tasks.append(asyncio.create_task(self._refresh_forever(), name="rollups"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def refresh_now(self) -> None:
        started = time.perf_counter()
        async with self._db.connection() as conn:
            if self._dialect.gateway_maintains_timeseries:
                await refresh_rollups(conn)
                await refresh_analytics_rollups(conn)
            await refresh_journeys(conn)
        self._metrics.rollup_refresh_seconds.observe(time.perf_counter() - started)

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh_now()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("rollup refresh failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._refresh_every)

    async def _retention_forever(self) -> None:
        while True:
            try:
                async with self._db.connection() as conn:
                    deleted = await apply_retention(conn, self._retention)
                    deleted |= await apply_analytics_retention(conn, self._retention)
                for table, count in deleted.items():
                    self._metrics.retention_deleted.labels(table).inc(count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("retention failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._retention.interval_s)
