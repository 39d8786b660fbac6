"""Analytics retention with the TRINETRA_RETENTION__* settings (gateway/db/analytics/
retention.py): series past track_events_days are deleted, heatmap grids past
detections_days, aggregates past rollup_days, and customer ids past identity_events_days
are cleared from visits and journeys that are kept. Real PostgreSQL (expire_rows, the
plain-PostgreSQL version)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import RetentionSettings
from gateway.db.analytics.journeys import refresh_journeys
from gateway.db.analytics.retention import apply_analytics_retention
from gateway.db.analytics.rollups import refresh_analytics_rollups
from gateway.db.database import Database
from tests.gateway.analytics_helpers import crossing, heatmap_grid, identity, stay, track_uid, write

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
