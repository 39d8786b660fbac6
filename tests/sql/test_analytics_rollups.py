"""The analytics aggregates give the same numbers on both dialects, late and replayed
events included, counted once.

Three computations of every rollup over the same events are compared:
- the plain-PostgreSQL rollup tables, refreshed incrementally (gateway/db/analytics/
  rollups.py) after each of two batches, the second holding late events (into buckets
  already refreshed) and events already stored (replays);
- the TimescaleDB continuous aggregates' own SELECTs, taken from sql/timescale/
  0005_analytics_aggregates.sql and run here on PostgreSQL, with `time_bucket`, `first`
  and `last` defined as TimescaleDB documents them (no TimescaleDB build exists here);
- a recomputation from scratch in Python of the distinct events.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.db.analytics import dwell
from gateway.db.analytics.buckets import Width, floor
from gateway.db.analytics.dwell import dwell_bucket
from gateway.db.analytics.rollups import HISTOGRAMS, ROLLUPS, refresh_analytics_rollups
from gateway.db.database import Database, init_connection
from gateway.db.dialect import Dialect
from gateway.db.migrations import SQL_ROOT, Migration, plan
from tests.gateway.analytics_helpers import (
    abandonment,
    crossing,
    occupancy_change,
    queue_snapshot,
    stay,
    write,
)
from tests.gateway.helpers import STORE as ANALYTICS_STORE
from trinetra.events.schema import (
    Event,
    LineCrossedEvent,
    QueueAbandonedEvent,
    QueueSnapshotEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
)
from trinetra.events.streams import ANALYTICS_STREAM

pytestmark = pytest.mark.timeout(180)

# Two days ago, so the range crosses midnight and day buckets hold several hours.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
SPAN_S = 8 * 3600

SHIM = """
CREATE SCHEMA tsshim;
CREATE FUNCTION tsshim.time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE RETURN date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00');
CREATE TYPE tsshim.int_at AS (v integer, t timestamptz);
CREATE FUNCTION tsshim.first_step(s tsshim.int_at, v integer, t timestamptz)
RETURNS tsshim.int_at LANGUAGE sql IMMUTABLE
RETURN CASE WHEN s IS NULL OR t < (s).t THEN ROW(v, t)::tsshim.int_at ELSE s END;
CREATE FUNCTION tsshim.last_step(s tsshim.int_at, v integer, t timestamptz)
RETURNS tsshim.int_at LANGUAGE sql IMMUTABLE
RETURN CASE WHEN s IS NULL OR t > (s).t THEN ROW(v, t)::tsshim.int_at ELSE s END;
CREATE FUNCTION tsshim.value_of(s tsshim.int_at) RETURNS integer LANGUAGE sql IMMUTABLE
RETURN (s).v;
CREATE AGGREGATE tsshim.first(integer, timestamptz)
    (SFUNC = tsshim.first_step, STYPE = tsshim.int_at, FINALFUNC = tsshim.value_of);
CREATE AGGREGATE tsshim.last(integer, timestamptz)
    (SFUNC = tsshim.last_step, STYPE = tsshim.int_at, FINALFUNC = tsshim.value_of);
"""


def continuous_aggregates() -> dict[str, str]:
    """name -> the SELECT of each continuous aggregate in the analytics migration."""
    migration = next(
        m for m in plan(Dialect.TIMESCALE) if m.name == "timescale/0005_analytics_aggregates"
    )
    assert isinstance(migration, Migration) and not migration.transactional
    views: dict[str, str] = {}
    for statement in migration.statements():
        match = re.match(
            r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\s+WITH \(timescaledb\.continuous, "
            r"timescaledb\.materialized_only = false\) AS\s+(SELECT .*)\s+WITH NO DATA$",
            statement,
            re.DOTALL,
        )
        assert match is not None, statement[:80]
        views[match.group(1)] = match.group(2)
    return views


def events(rng: random.Random) -> list[Event]:
    """Crossings, stays, occupancy changes, queue snapshots and abandonments over 8 h."""
    out: list[Event] = []

    def at(seconds: float) -> datetime:
        # millisecond times, as the schema rounds dwell to milliseconds
        return T0 + timedelta(milliseconds=round(seconds * 1000))

    for i in range(300):
        line = rng.choice(["door", "aisle"])
        out.append(
            crossing(
                rng.choice(["cam-a", "cam-b"]),
                line,
                i,
                at(rng.uniform(0, SPAN_S)),
                rng.choice(["in", "out"]),
                store_entry=line == "door",
            )
        )
    for i in range(250):
        dwell = round(rng.choice([0.4, 0.9, 3.0, 12.5, 60.0, 300.0]) * rng.uniform(0.5, 2.0), 3)
        entered = at(rng.uniform(0, SPAN_S))
        out.append(stay("cam-a", rng.choice(["z1", "z2"]), i, entered, dwell))
    for zone in ("z1", "z2"):
        count = 0
        times = sorted(rng.sample(range(0, SPAN_S * 10), 150))
        for tenth in times:
            new = max(0, count + rng.choice([-1, 1, 1, 2]))
            if new == count:
                continue
            out.append(occupancy_change("cam-a", zone, at(tenth / 10), new, count, capacity=5))
            count = new
    for i in range(0, 4 * 3600, 7):
        length = rng.randint(0, 6)
        wait = None if i < 600 else round(length * 35.5, 3)
        out.append(queue_snapshot("cam-b", "q1", at(i + 0.5), length, wait))
    for i in range(40):
        out.append(abandonment("cam-b", "q1", 1000 + i, at(rng.uniform(0, SPAN_S))))
    return out


def _bucket(moment: datetime, width: Width) -> datetime:
    return floor(moment, width)


def recompute(distinct: Iterable[Event]) -> dict[str, set[tuple[Any, ...]]]:
    """Every rollup's rows from scratch, as (keys..., bucket, aggregates...) tuples."""
    groups: dict[tuple[str, tuple[Any, ...]], list[Event]] = defaultdict(list)
    for event in distinct:
        for rollup in ROLLUPS:
            width = rollup.width
            match event:
                case LineCrossedEvent() if rollup.source == "line_crossings":
                    key: tuple[Any, ...] = (
                        event.store_id,
                        event.camera_id,
                        event.line_id,
                        _bucket(event.crossed_at, width),
                    )
                case ZoneExitedEvent() if rollup.source == "zone_stays":
                    key = (
                        event.store_id,
                        event.camera_id,
                        event.zone_id,
                        _bucket(event.exited_at, width),
                        dwell_bucket(event.dwell_s),
                    )
                case ZoneOccupancyEvent() if rollup.source == "zone_occupancy_changes":
                    key = (
                        event.store_id,
                        event.camera_id,
                        event.zone_id,
                        _bucket(event.occurred_at, width),
                    )
                case QueueSnapshotEvent() if rollup.source == "queue_snapshots":
                    key = (
                        event.store_id,
                        event.camera_id,
                        event.zone_id,
                        _bucket(event.occurred_at, width),
                    )
                case QueueAbandonedEvent() if rollup.source == "queue_abandonments":
                    key = (
                        event.store_id,
                        event.camera_id,
                        event.zone_id,
                        _bucket(event.left_at, width),
                    )
                case _:
                    continue
            groups[(rollup.name, key)].append(event)
    rows: dict[str, set[tuple[Any, ...]]] = {r.name: set() for r in ROLLUPS}
    widths = {r.name: r.width.value for r in ROLLUPS}
    for (name, key), members in groups.items():
        rows[name].add((*key, *_aggregate(name, key, members, widths[name])))
    return rows


def _aggregate(
    name: str, key: tuple[Any, ...], members: list[Event], width_s: int
) -> tuple[Any, ...]:
    if name.startswith("footfall"):
        crossings = [m for m in members if isinstance(m, LineCrossedEvent)]
        return (
            sum(c.direction == "in" for c in crossings),
            sum(c.direction == "out" for c in crossings),
            sum(c.direction == "in" and c.counts_store_entry for c in crossings),
            sum(c.direction == "out" and c.counts_store_entry for c in crossings),
        )
    if name.startswith("zone_dwell"):
        stays = [m for m in members if isinstance(m, ZoneExitedEvent)]
        return (len(stays), _round(sum(s.dwell_s for s in stays)))
    if name.startswith("zone_occupancy"):
        changes = sorted(
            (m for m in members if isinstance(m, ZoneOccupancyEvent)), key=lambda m: m.occurred_at
        )
        bucket = key[3]
        weighted = sum(
            (c.count - c.previous) * (width_s - (c.occurred_at - bucket).total_seconds())
            for c in changes
        )
        return (
            len(changes),
            changes[0].previous,
            changes[-1].count,
            _round(weighted),
            max(c.count for c in changes),
        )
    if name.startswith("queue_abandoned"):
        return (len(members),)
    snapshots = [m for m in members if isinstance(m, QueueSnapshotEvent)]
    waits = [s.estimated_wait_s for s in snapshots if s.estimated_wait_s is not None]
    return (
        len(snapshots),
        sum(s.length for s in snapshots),
        max(s.length for s in snapshots),
        len(waits),
        _round(sum(waits)) if waits else None,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _normalized(rows: Iterable[asyncpg.Record]) -> set[tuple[Any, ...]]:
    return {tuple(_round(v) if isinstance(v, float) else v for v in row.values()) for row in rows}


async def rollup_rows(conn: asyncpg.Connection) -> dict[str, set[tuple[Any, ...]]]:
    out = {}
    for rollup in ROLLUPS:
        out[rollup.name] = _normalized(await conn.fetch(f"SELECT * FROM {rollup.name}"))
    return out


async def aggregate_rows(conn: asyncpg.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """The continuous aggregates' SELECTs run on the raw tables (TimescaleDB's functions
    shimmed), columns in the rollup tables' order."""
    out = {}
    await conn.execute("SET search_path = tsshim, public")
    try:
        for name, select in continuous_aggregates().items():
            columns = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = $1 ORDER BY ordinal_position",
                    name,
                )
            ]
            rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM ({select}) v")
            out[name] = _normalized(rows)
    finally:
        await conn.execute("SET search_path = public")
    return out


async def test_both_paths_agree_with_a_recomputation_through_late_and_replayed_events(
    database_url: str,
) -> None:
    rng = random.Random(7)
    everything = events(rng)
    first, late = everything[::2], everything[1::2]
    replayed = rng.sample(first, 60)

    db = Database(database_url, max_size=2)
    await db.start()
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        assert (await write(db, first)).stored == len(first)
        await refresh_analytics_rollups(conn)
        assert await rollup_rows(conn) == recompute(first)

        # Late events into buckets already refreshed, and events already stored.
        result = await write(db, [*late, *replayed])
        assert (result.stored, result.duplicates) == (len(late), len(replayed))
        rewritten = await refresh_analytics_rollups(conn)
        assert rewritten["footfall_day"] >= 1
        expected = recompute(everything)
        assert sum(len(rows) for rows in expected.values()) > 1000
        assert await rollup_rows(conn) == expected

        await conn.execute(SHIM)
        assert await aggregate_rows(conn) == expected

        # A refresh with nothing new (it recomputes the overlap again) changes nothing.
        await refresh_analytics_rollups(conn)
        assert await rollup_rows(conn) == expected
    finally:
        await conn.close()
        await db.close()


async def test_dwell_buckets_are_the_same_in_sql_and_python(database_url: str) -> None:
    values = [0.0, 0.001, 0.999, 1.0, 1.0443, 1.5, 2.0, 2.0 ** (1 / 16), 59.9, 60.0, 3600.0]
    values += [2.0**20, 2.0**21, 1e7] + [math.exp(x / 7) for x in range(0, 90)]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT v, dwell_bucket(v) AS b FROM unnest($1::float8[]) AS v", values
        )
    finally:
        await conn.close()
    assert [(r["v"], r["b"]) for r in rows] == [(v, dwell_bucket(v)) for v in values]
    assert dwell_bucket(2.0**20) == 321 and dwell_bucket(1e9) == 321


def test_the_sql_folder_is_the_one_the_gateway_reads() -> None:
    assert (SQL_ROOT / "timescale" / "0005_analytics_aggregates.sql").is_file()
    assert set(continuous_aggregates()) == {r.name for r in ROLLUPS}


def test_every_aggregate_refreshes_over_what_the_stream_can_still_deliver() -> None:
    """Issue 14: a refresh window shorter than the ANALYTICS stream's max age loses events
    that reach the database late (JetStream redelivers them up to that age)."""
    policies = next(
        m for m in plan(Dialect.TIMESCALE) if m.name == "timescale/0006_analytics_policies"
    )
    found = dict(
        re.findall(
            r"add_continuous_aggregate_policy\('(\w+)', start_offset => INTERVAL '(\d+) days'",
            policies.sql,
        )
    )
    assert set(found) == set(continuous_aggregates())
    for name, days in found.items():
        assert int(days) * 86400 > ANALYTICS_STREAM.max_age_s, name
    hypertables = next(
        m for m in plan(Dialect.TIMESCALE) if m.name == "timescale/0004_analytics_hypertables"
    )
    # One-day chunks: retention (which drops whole chunks) is honoured within a day.
    assert set(re.findall(r"INTERVAL '(\d+ \w+)'", hypertables.sql)) == {"1 day"}


def histogram_aggregates() -> dict[str, str]:
    """name -> the SELECT of each compact dwell histogram continuous aggregate."""
    migration = next(
        m for m in plan(Dialect.TIMESCALE) if m.name == "timescale/0009_dwell_histogram"
    )
    assert isinstance(migration, Migration) and not migration.transactional
    views: dict[str, str] = {}
    for statement in migration.statements():
        if statement.startswith("SELECT add_continuous_aggregate_policy"):
            continue
        match = re.match(
            r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\s+WITH \(timescaledb\.continuous, "
            r"timescaledb\.materialized_only = false\) AS\s+(SELECT .*)\s+WITH NO DATA$",
            statement,
            re.DOTALL,
        )
        assert match is not None, statement[:80]
        views[match.group(1)] = match.group(2)
    return views


Histograms = dict[tuple[Any, ...], tuple[int, float, dict[int, int]]]


def _histograms(rows: Iterable[asyncpg.Record]) -> Histograms:
    """(store, camera, zone, bucket) -> (stays, dwell sum, {dwell bucket: stays}) of the
    compact rows; the arrays' order does not matter, only their pairing."""
    out: Histograms = {}
    for r in rows:
        pairs = dict(zip(r["dwell_buckets"], r["counts"], strict=True))
        assert len(pairs) == len(r["counts"])  # each dwell bucket once
        key = (r["store_id"], r["camera_id"], r["zone_id"], r["bucket"])
        out[key] = (r["stays"], round(r["dwell_sum"], 6), pairs)
    return out


async def _from_per_bucket_rows(conn: asyncpg.Connection, table: str) -> Histograms:
    out: Histograms = {}
    for r in await conn.fetch(f"SELECT * FROM {table}"):
        key = (r["store_id"], r["camera_id"], r["zone_id"], r["bucket"])
        stays, total, pairs = out.get(key, (0, 0.0, {}))
        pairs[r["dwell_bucket"]] = r["stays"]
        out[key] = (stays + r["stays"], total + r["dwell_sum"], pairs)
    return {k: (n, round(total, 6), pairs) for k, (n, total, pairs) in out.items()}


def _exact(values: list[float], q: float) -> float:
    """The ceil(q * n)-th smallest value: the one whose histogram bucket the
    interpolated percentile is read from."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def test_compact_dwell_histograms_on_both_paths_and_their_percentile_error(
    database_url: str,
) -> None:
    """The compact histograms (one row per zone and hour/day/week) hold exactly the
    per-dwell-bucket rollups' counts, through late and replayed events, on both paths;
    the dwell query's p50/p90 read from them are within a bucket's width of the exact
    percentiles: 4.43% (2^(1/16) - 1) from 1 s up, 1 s below."""
    rng = random.Random(11)
    everything = events(rng)
    first, late = everything[::2], everything[1::2]
    db = Database(database_url, max_size=2)
    await db.start()
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await write(db, first)
        await refresh_analytics_rollups(conn)
        await write(db, [*late, *rng.sample(first, 40)])
        rewritten = await refresh_analytics_rollups(conn)
        assert rewritten["zone_dwell_hist_hour"] >= 1
        views = histogram_aggregates()
        assert set(views) == {h.name for h in HISTOGRAMS}
        await conn.execute(SHIM)
        for histogram in HISTOGRAMS:
            expected = await _from_per_bucket_rows(conn, histogram.source)
            assert len(expected) >= 2, histogram.name
            plain = _histograms(await conn.fetch(f"SELECT * FROM {histogram.name}"))
            assert plain == expected, histogram.name
            # The TimescaleDB aggregate's own SELECT, over the rollup it stands on.
            await conn.execute("SET search_path = tsshim, public")
            try:
                timescale = _histograms(await conn.fetch(views[histogram.name]))
            finally:
                await conn.execute("SET search_path = public")
            assert timescale == expected, histogram.name

        stays = [e for e in everything if isinstance(e, ZoneExitedEvent)]
        start = floor(T0, Width.DAY) - timedelta(days=7)
        rows = await dwell.per_zone(conn, ANALYTICS_STORE, start, start + timedelta(days=14))
        assert {r.zone_id for r in rows} == {"z1", "z2"}
        for row in rows:
            values = [s.dwell_s for s in stays if s.zone_id == row.zone_id]
            assert row.visits == len(values)
            assert row.mean_s == pytest.approx(sum(values) / len(values))
            for q, got in ((0.5, row.p50_s), (0.9, row.p90_s)):
                exact = _exact(values, q)
                bound = 1.0 if exact < 1.0 else exact * (2 ** (1 / 16) - 1)
                assert abs(got - exact) <= bound + 1e-9, (row.zone_id, q, got, exact)
    finally:
        await conn.close()
        await db.close()
