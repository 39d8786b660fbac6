"""Late data reaches the aggregates (issue 14: camera_minute's 3-hour look-back lost the
minutes of a backlog on TimescaleDB). Events are stored hours or days late, after the
aggregate was refreshed, and the per-bucket figures must still equal a count of the raw
rows. Runs on whatever server the suite uses (tests/support/postgres.py): on plain
PostgreSQL the gateway's incremental refresh, on TimescaleDB the refresh policy's own
job (`run_job`), i.e. its real window. The static check of every policy window against
its stream's max age is tests/sql/test_late_data_policies.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.db import dialect as dialects
from gateway.db.analytics.rollups import refresh_analytics_rollups
from gateway.db.database import Database
from gateway.db.dialect import Dialect
from gateway.db.maintenance import refresh_rollups
from tests.gateway.analytics_helpers import crossing, write
from tests.gateway.helpers import detections
from trinetra.events.schema import Event

pytestmark = pytest.mark.timeout(120)

NOW = datetime.now(UTC)


def hour_before(age: timedelta) -> datetime:
    """The start of the hour `age` ago: every batch then covers the same buckets."""
    return (NOW - age).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Case:
    aggregate: str
    stream: str
    events: Callable[[datetime], Sequence[Event]]  # two or more buckets from an hour
    figures: str  # aggregate -> (bucket, figure) rows
    raw: str  # raw rows -> (bucket, figure) rows, bucketed the same way
    late: tuple[timedelta, ...]  # how late each backlog is stored: within the max age


CASES = (
    Case(
        aggregate="camera_minute",
        stream="DETECTIONS",
        # 15 s at 10 fps from 50 s past the hour: two minutes of detections.
        events=lambda start: detections("cam-late", start + timedelta(seconds=50), 150),
        figures="SELECT bucket, frames, person_sum FROM camera_minute WHERE camera_id = 'cam-late'",
        raw="""
            SELECT date_bin(INTERVAL '1 minute', occurred_at, TIMESTAMPTZ '2000-01-01'),
                   count(*), sum(person_count)
            FROM detections WHERE camera_id = 'cam-late' GROUP BY 1
        """,
        # DETECTIONS keeps a day: 5 hours late (the old window lost it) and 20 hours.
        late=(timedelta(hours=5), timedelta(hours=20)),
    ),
    Case(
        aggregate="footfall_15m",
        stream="ANALYTICS",
        events=lambda start: [
            crossing("cam-late", "door", i, start + timedelta(minutes=7 * i)) for i in range(4)
        ],
        figures="SELECT bucket, entries FROM footfall_15m WHERE camera_id = 'cam-late'",
        raw="""
            SELECT date_bin(INTERVAL '15 minutes', crossed_at, TIMESTAMPTZ '2000-01-01'),
                   count(*)
            FROM line_crossings WHERE camera_id = 'cam-late' AND direction = 'in' GROUP BY 1
        """,
        # ANALYTICS keeps a week.
        late=(timedelta(hours=5), timedelta(days=6)),
    ),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, max_size=2)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


async def refresh(conn: asyncpg.Connection, dialect: Dialect, aggregate: str) -> None:
    """What brings `aggregate` up to date in production: the gateway's refresh on plain
    PostgreSQL, the aggregate's refresh policy job on TimescaleDB."""
    if dialect is Dialect.POSTGRES:
        if aggregate == "camera_minute":
            await refresh_rollups(conn)
        else:
            await refresh_analytics_rollups(conn)
        return
    job = await conn.fetchval(
        """
        SELECT job_id FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = $1
        """,
        aggregate,
    )
    assert job is not None, f"{aggregate} has no refresh policy"
    await conn.execute(f"CALL run_job({int(job)})")


async def rows(conn: asyncpg.Connection, sql: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in await conn.fetch(sql))


@pytest.mark.parametrize("case", CASES, ids=[c.aggregate for c in CASES])
async def test_events_stored_late_after_a_refresh_are_counted(db: Database, case: Case) -> None:
    async with db.connection() as conn:
        dialect = await dialects.recorded(conn)
        assert dialect is not None
        # On time, then refreshed: the aggregate's watermark is now past every backlog.
        await write(db, case.events(hour_before(timedelta(minutes=40))), stream=case.stream)
        await refresh(conn, dialect, case.aggregate)
        on_time = await rows(conn, case.figures)
        assert on_time and on_time == await rows(conn, case.raw)
        # Backlogs (a consumer replaying its stream), each followed by a refresh.
        for late in case.late:
            await write(db, case.events(hour_before(late)), stream=case.stream)
            await refresh(conn, dialect, case.aggregate)
        figures = await rows(conn, case.figures)
        assert figures == await rows(conn, case.raw)
        assert len(figures) == len(on_time) * (1 + len(case.late))
