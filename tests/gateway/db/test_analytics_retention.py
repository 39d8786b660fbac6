"""Analytics retention with the TRINETRA_RETENTION__* settings (gateway/db/analytics/
retention.py): series past track_events_days are deleted, heatmap grids past
detections_days, aggregates past rollup_days, and customer ids past identity_events_days
are cleared from visits and journeys that are kept. The core time series (detections,
identity events, ...) follow the same settings on both dialects (gateway/db/maintenance.py;
issue 14: they did nothing on TimescaleDB). Real PostgreSQL, or the TimescaleDB that
TRINETRA_TEST_DATABASE_URL names (tests/support/postgres.py): expire_rows deletes rows on
one, drops whole chunks on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import RetentionSettings
from gateway.db import dialect as dialects
from gateway.db.analytics.journeys import refresh_journeys
from gateway.db.analytics.retention import apply_analytics_retention
from gateway.db.analytics.rollups import refresh_analytics_rollups
from gateway.db.database import Database
from gateway.db.dialect import Dialect
from gateway.db.maintenance import apply_retention
from tests.gateway.analytics_helpers import crossing, heatmap_grid, identity, stay, track_uid, write
from tests.gateway.helpers import camera_status, detections

pytestmark = pytest.mark.timeout(120)

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, max_size=2)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


async def count(db: Database, sql: str) -> int:
    async with db.connection() as conn:
        return int(await conn.fetchval(sql))


async def test_each_table_expires_by_its_setting(db: Database) -> None:
    old, recent = NOW - timedelta(days=50), NOW - timedelta(days=5)
    uid = track_uid("cam-a", 1, recent)
    await write(
        db,
        [
            crossing("cam-a", "door", 1, old),
            crossing("cam-a", "door", 2, recent),
            stay("cam-a", "z1", 1, recent, 30.0, uid=uid),
            heatmap_grid("cam-a", old.replace(second=0), {0: 1.0}),
            heatmap_grid("cam-a", recent.replace(second=0), {0: 1.0}),
        ],
    )
    await write(
        db,
        [identity("cam-a", 1, uid, uid, recent + timedelta(seconds=5), customer="cust-1")],
        stream="IDENTITY",
    )
    async with db.connection() as conn:
        await refresh_analytics_rollups(conn)
        await refresh_journeys(conn)
    assert await count(db, "SELECT count(*) FROM journeys WHERE customer_id IS NOT NULL") == 1
    settings = RetentionSettings(
        track_events_days=30, detections_days=20, identity_events_days=3, rollup_days=40
    )
    async with db.connection() as conn:
        deleted = await apply_analytics_retention(conn, settings)
    assert deleted["line_crossings"] == 1 and deleted["heatmap_grids"] == 1
    assert deleted["footfall_day"] == 1  # the 50-day-old day, past rollup_days
    assert await count(db, "SELECT count(*) FROM line_crossings") == 1
    assert await count(db, "SELECT count(*) FROM heatmap_grids") == 1
    assert await count(db, "SELECT count(*) FROM footfall_day") == 1
    # The journey (5 days old) stays, without its customer (past identity_events_days).
    assert await count(db, "SELECT count(*) FROM journeys") == 1
    assert await count(db, "SELECT count(*) FROM journeys WHERE customer_id IS NOT NULL") == 0
    assert await count(db, "SELECT count(*) FROM journey_tracks WHERE customer_id IS NOT NULL") == 0


async def test_time_series_expire_by_the_settings_on_either_dialect(db: Database) -> None:
    # Three days old goes (past 2 days), one day old stays; on TimescaleDB a chunk is
    # dropped once wholly past the cutoff, and personal data has one-day chunks.
    old, recent = NOW - timedelta(days=3), NOW - timedelta(days=1)
    for at in (old, recent):
        await write(db, detections("cam-r", at, 3), stream="DETECTIONS")
        await write(db, [camera_status("cam-r", "live", at)], stream="CAMERA_STATUS")
        uid = track_uid("cam-r", 1, at)
        await write(db, [identity("cam-r", 1, uid, uid, at, customer="c-1")], stream="IDENTITY")
    settings = RetentionSettings(detections_days=2, identity_events_days=2, camera_status_days=2)
    async with db.connection() as conn:
        await apply_retention(conn, settings)
        dialect = await dialects.recorded(conn)
    cutoff = "occurred_at < now() - INTERVAL '2 days'"
    for table in ("detections", "identity_events", "camera_status_events"):
        assert await count(db, f"SELECT count(*) FROM {table} WHERE {cutoff}") == 0, table
        assert await count(db, f"SELECT count(*) FROM {table}") > 0, table
    if dialect is Dialect.TIMESCALE:
        # The settings are the only retention: no fixed policy of its own is left.
        policies = "SELECT count(*) FROM timescaledb_information.jobs"
        assert await count(db, f"{policies} WHERE proc_name = 'policy_retention'") == 0
        interval = await count(
            db,
            """
            SELECT extract(epoch FROM time_interval)::bigint
            FROM timescaledb_information.dimensions WHERE hypertable_name = 'identity_events'
            """,
        )
        assert interval == 86400  # retention honoured within a day
