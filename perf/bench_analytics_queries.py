"""Analytics query latency over 30 days x 16 cameras, through the aggregates.

A synthetic store (16 cameras, open 10:00-22:00 UTC): two counting lines per camera (the
first two cameras' doors count store entries), three zones per camera (two cameras have
a queue zone), with line crossings, zone stays, occupancy changes, queue snapshots every
5 s and abandonments at realistic rates, per-hour heatmaps, and journeys with their
quarter-hour counts and flows. The raw tables are bulk loaded with COPY into an embedded
PostgreSQL 18 (durable settings, the plain-PostgreSQL path), the gateway's own rollup
refresh (gateway/db/analytics/rollups.py) builds the aggregates from them once, then the
real gateway (uvicorn on loopback) answers each analytics GraphQL query over HTTP, timed
end to end, for a day, a week and a month: p50/p99 (target p99 <= 50 ms).

The journeys, heatmap sums and journey counts/flows are generated directly (their
refresh is measured by the tests, not here); everything else is derived by the
gateway's code from the raw rows.

    .venv/bin/python perf/bench_analytics_queries.py [--days 30] [--cameras 16] [--repeat 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.nats import NatsServer
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings, IngestSettings
from gateway.db.analytics import dwell, occupancy
from gateway.db.analytics.buckets import Width
from gateway.db.analytics.journeys import flows as journey_flows
from gateway.db.analytics.rollups import refresh_analytics_rollups
from gateway.db.database import init_connection
from gateway.db.migrations import migrate
from gateway.runtime import Gateway
from gateway.serve import build_server

SECRET = "bench-secret-of-at-least-thirty-two-characters"
STORE = "store-1"
OPEN_H, CLOSE_H = 10, 22
COLS, ROWS = 32, 24


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q))]


def open_seconds(day: datetime, rng: random.Random, count: int) -> Iterator[datetime]:
    """`count` random moments (ms precision) of a day's opening hours, in order."""
    span = (CLOSE_H - OPEN_H) * 3600 * 1000
    for ms in sorted(rng.randrange(span) for _ in range(count)):
        yield day + timedelta(hours=OPEN_H, milliseconds=ms)


class Store:
    def __init__(self, days: int, cameras: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.noise = np.random.default_rng(seed)
        self.cameras = [f"cam-{i:02d}" for i in range(cameras)]
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.first_day = today - timedelta(days=days)
        self.days = [self.first_day + timedelta(days=d) for d in range(days)]
        self.zones = {c: [f"{c}-z{j}" for j in range(3)] for c in self.cameras}
        self.queues = {
            self.cameras[2]: f"{self.cameras[2]}-z2",
            self.cameras[3]: f"{self.cameras[3]}-z2",
        }

    def crossings(self) -> Iterator[tuple[Any, ...]]:
        for day in self.days:
            for i, camera in enumerate(self.cameras):
                for line in (f"{camera}-door", f"{camera}-aisle"):
                    entry = i < 2 and line.endswith("door")
                    for at in open_seconds(day, self.rng, 12 * 40):
                        direction = "in" if self.rng.random() < 0.5 else "out"
                        yield (
                            at,
                            uuid.uuid4(),
                            at,
                            STORE,
                            camera,
                            line,
                            direction,
                            self.rng.randrange(10_000),
                            None,
                            None,
                            entry,
                            1,
                            at,
                        )

    def stays(self) -> Iterator[tuple[Any, ...]]:
        for day in self.days:
            for camera in self.cameras:
                for zone in self.zones[camera]:
                    for exited in open_seconds(day, self.rng, 12 * 60):
                        dwell = round(self.rng.lognormvariate(3.0, 1.0), 3)
                        yield (
                            exited,
                            uuid.uuid4(),
                            exited,
                            STORE,
                            camera,
                            zone,
                            self.rng.randrange(10_000),
                            None,
                            None,
                            exited - timedelta(seconds=dwell),
                            dwell,
                            "exited",
                            1,
                            exited,
                        )

    def occupancy(self) -> Iterator[tuple[Any, ...]]:
        for day in self.days:
            for camera in self.cameras:
                for zone in self.zones[camera]:
                    count = 0
                    for at in open_seconds(day, self.rng, 12 * 60):
                        new = max(0, count + self.rng.choice((-1, 1)))
                        if new == count:
                            continue
                        yield (at, uuid.uuid4(), STORE, camera, zone, new, count, 8, new > 8, 1, at)
                        count = new

    def queue_snapshots(self) -> Iterator[tuple[Any, ...]]:
        for day in self.days:
            for camera, zone in self.queues.items():
                length = 0
                for step in range(0, (CLOSE_H - OPEN_H) * 3600, 5):
                    at = day + timedelta(hours=OPEN_H, seconds=step)
                    length = max(0, min(12, length + self.rng.choice((-1, 0, 0, 1))))
                    wait = round(length * 40.0, 3)
                    yield (
                        at,
                        uuid.uuid4(),
                        STORE,
                        camera,
                        zone,
                        length,
                        40.0,
                        wait,
                        None,
                        0,
                        0,
                        wait > 300,
                        1,
                        at,
                    )

    def abandonments(self) -> Iterator[tuple[Any, ...]]:
        for day in self.days:
            for camera, zone in self.queues.items():
                for left in open_seconds(day, self.rng, 12 * 5):
                    yield (
                        left,
                        uuid.uuid4(),
                        left,
                        STORE,
                        camera,
                        zone,
                        self.rng.randrange(10_000),
                        None,
                        None,
                        60.0,
                        1,
                        left,
                    )

    def heatmap(self, width: timedelta) -> Iterator[tuple[Any, ...]]:
        cells = COLS * ROWS
        for day in self.days:
            for camera in self.cameras:
                buckets = (
                    [day]
                    if width == timedelta(days=1)
                    else [day + timedelta(hours=h) for h in range(OPEN_H, CLOSE_H)]
                )
                for bucket in buckets:
                    heat = self.noise.random(cells) * 30
                    samples = (heat * 10).astype(np.int64).tolist()
                    yield (
                        STORE,
                        camera,
                        bucket,
                        COLS,
                        ROWS,
                        60,
                        samples,
                        heat.tolist(),
                        (heat * 0.01).tolist(),
                        (heat * -0.01).tolist(),
                        samples,
                    )

    def journeys(
        self,
    ) -> tuple[
        list[tuple[Any, ...]], dict[tuple[datetime, str, str], int], dict[datetime, list[int]]
    ]:
        rows: list[tuple[Any, ...]] = []
        flows: dict[tuple[datetime, str, str], int] = {}
        counts: dict[datetime, list[int]] = {}
        zones = [z for c in self.cameras[:4] for z in self.zones[c]]
        for day in self.days:
            for started in open_seconds(day, self.rng, 12 * 80):
                path = self.rng.sample(zones, self.rng.randint(1, 4))
                path_at = [started + timedelta(seconds=60 * (k + 1)) for k in range(len(path))]
                ended = path_at[-1] + timedelta(seconds=90)
                entered = started if self.rng.random() < 0.8 else None
                rows.append(
                    (
                        STORE,
                        uuid.uuid4(),
                        len(path) > 2,
                        None,
                        [self.cameras[0]],
                        1,
                        started,
                        entered,
                        ended,
                        (ended - (entered or started)).total_seconds(),
                        path,
                        path_at,
                    )
                )
                bucket = started.replace(minute=started.minute // 15 * 15, second=0, microsecond=0)
                count = counts.setdefault(bucket, [0, 0])
                count[0] += 1
                count[1] += entered is not None
                for source, target in journey_flows(path):
                    key = (bucket, source, target)
                    flows[key] = flows.get(key, 0) + 1
        return rows, flows, counts


async def load(dsn: str, store: Store) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    sizes: dict[str, int] = {}
    try:
        await migrate(conn)
        tables: list[tuple[str, list[str], Iterator[tuple[Any, ...]]]] = [
            (
                "line_crossings",
                [
                    "crossed_at",
                    "event_id",
                    "occurred_at",
                    "store_id",
                    "camera_id",
                    "line_id",
                    "direction",
                    "track_id",
                    "track_uid",
                    "visit_id",
                    "counts_store_entry",
                    "config_version",
                    "published_at",
                ],
                store.crossings(),
            ),
            (
                "zone_stays",
                [
                    "exited_at",
                    "event_id",
                    "occurred_at",
                    "store_id",
                    "camera_id",
                    "zone_id",
                    "track_id",
                    "track_uid",
                    "visit_id",
                    "entered_at",
                    "dwell_s",
                    "reason",
                    "config_version",
                    "published_at",
                ],
                store.stays(),
            ),
            (
                "zone_occupancy_changes",
                [
                    "occurred_at",
                    "event_id",
                    "store_id",
                    "camera_id",
                    "zone_id",
                    "count",
                    "previous",
                    "capacity",
                    "over_capacity",
                    "config_version",
                    "published_at",
                ],
                store.occupancy(),
            ),
            (
                "queue_snapshots",
                [
                    "occurred_at",
                    "event_id",
                    "store_id",
                    "camera_id",
                    "zone_id",
                    "length",
                    "median_service_s",
                    "estimated_wait_s",
                    "observed_wait_s",
                    "served",
                    "abandoned",
                    "over_wait_threshold",
                    "config_version",
                    "published_at",
                ],
                store.queue_snapshots(),
            ),
            (
                "queue_abandonments",
                [
                    "left_at",
                    "event_id",
                    "occurred_at",
                    "store_id",
                    "camera_id",
                    "zone_id",
                    "track_id",
                    "track_uid",
                    "visit_id",
                    "waited_s",
                    "config_version",
                    "published_at",
                ],
                store.abandonments(),
            ),
        ]
        heat_columns = [
            "store_id",
            "camera_id",
            "bucket",
            "cols",
            "rows",
            "grids",
            "samples",
            "person_seconds",
            "flow_dx_sum",
            "flow_dy_sum",
            "flow_samples",
        ]
        tables += [
            ("heatmap_hour", heat_columns, store.heatmap(timedelta(hours=1))),
            ("heatmap_day", heat_columns, store.heatmap(timedelta(days=1))),
        ]
        for table, columns, rows in tables:
            started = time.perf_counter()
            batch: list[tuple[Any, ...]] = []
            total = 0
            for row in rows:
                batch.append(row)
                if len(batch) >= 50_000:
                    await conn.copy_records_to_table(table, records=batch, columns=columns)
                    total += len(batch)
                    batch = []
            if batch:
                await conn.copy_records_to_table(table, records=batch, columns=columns)
                total += len(batch)
            sizes[table] = total
            print(
                f"  loaded {table:24s} {total:>10,} rows in {time.perf_counter() - started:5.1f} s"
            )
        journeys, flows, counts = store.journeys()
        await conn.copy_records_to_table(
            "journeys",
            records=journeys,
            columns=[
                "store_id",
                "journey_id",
                "linked",
                "customer_id",
                "camera_ids",
                "tracks",
                "started_at",
                "entered_at",
                "ended_at",
                "duration_s",
                "path",
                "path_at",
            ],
        )
        await conn.copy_records_to_table(
            "journey_flows",
            records=[(STORE, b, s, t, n) for (b, s, t), n in flows.items()],
            columns=["store_id", "bucket", "source", "target", "visits"],
        )
        await conn.copy_records_to_table(
            "journey_counts",
            records=[(STORE, b, v, e) for b, (v, e) in counts.items()],
            columns=["store_id", "bucket", "visits", "entered"],
        )
        sizes["journeys"], sizes["journey_flows"] = len(journeys), len(flows)
        # The newest occupancy per zone (what ingest maintains).
        await conn.execute(
            """
            INSERT INTO zone_occupancy_current (store_id, camera_id, zone_id, count, capacity,
                at, event_id)
            SELECT DISTINCT ON (store_id, camera_id, zone_id) store_id, camera_id, zone_id,
                   count, capacity, occurred_at, event_id
            FROM zone_occupancy_changes ORDER BY store_id, camera_id, zone_id, occurred_at DESC
            """
        )
        config = {
            "store_id": STORE,
            "version": 1,
            "zones": [
                {
                    "id": z,
                    "camera_id": c,
                    "name": z,
                    "kind": "queue"
                    if z in store.queues.values()
                    else ("checkout" if z.endswith("z1") else "area"),
                    "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
                }
                for c in store.cameras
                for z in store.zones[c]
            ],
            "funnels": [
                {
                    "id": "f1",
                    "name": "entry to checkout",
                    "stages": [
                        {"kind": "store_entry"},
                        {"kind": "zone", "zone_ids": store.zones[store.cameras[0]][:2]},
                        {"kind": "zone_kind", "zone_kind": "checkout"},
                    ],
                }
            ],
        }
        await conn.execute(
            "INSERT INTO analytics_config_versions (store_id, version, config, actor, action)"
            " VALUES ($1, 1, $2, 'bench', 'bench')",
            STORE,
            config,
        )
        started = time.perf_counter()
        await refresh_analytics_rollups(conn)
        print(f"  rollups built (gateway refresh)        in {time.perf_counter() - started:5.1f} s")
        for table in (
            "footfall_15m",
            "footfall_hour",
            "footfall_day",
            "zone_occupancy_minute",
            "zone_occupancy_hour",
            "zone_dwell_hour",
            "zone_dwell_day",
            "zone_dwell_week",
            "zone_dwell_hist_hour",
            "zone_dwell_hist_day",
            "zone_dwell_hist_week",
            "queue_minute",
            "queue_hour",
        ):
            sizes[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return sizes


def _query(field: str, arguments: str, selection: str, bucket: str | None = None) -> str:
    """A query over the range $f..$t (and bucket $b when given)."""
    variables = "$f: DateTime!, $t: DateTime!" + (f", $b: {bucket}!" if bucket else "")
    args = "from: $f, to: $t" + (", bucket: $b" if bucket else "") + arguments
    return f"query ({variables}) {{ {field}({args}) {{ {selection} }} }}"


def queries(store: Store) -> list[tuple[str, str, dict[str, str]]]:
    """(name, document, bucket per range) of every analytics query."""
    zone = store.zones[store.cameras[0]][0]
    queue = store.queues[store.cameras[2]]
    camera = store.cameras[0]
    series = {"day": "HOUR", "week": "DAY", "month": "DAY"}
    fine = {"day": "MINUTE", "week": "HOUR", "month": "HOUR"}
    return [
        (
            "footfall (all lines)",
            _query("footfall", "", "bucketStart lineId cameraId entries exits", "Bucket"),
            series,
        ),
        ("footfallTotals", _query("footfallTotals", "", "entries exits"), {}),
        (
            "uniqueVisits",
            _query("uniqueVisits", "", "bucketStart visits entered", "Bucket"),
            series,
        ),
        (
            "zoneOccupancy (1 zone)",
            _query("zoneOccupancy", f', zoneId: "{zone}"', "minute mean max", "Bucket"),
            fine,
        ),
        (
            "zoneOccupancy (1 zone)",
            _query("zoneOccupancy", f', zoneId: "{zone}"', "minute mean max", "Bucket"),
            {"day": "FIFTEEN_MINUTES", "month": "DAY"},
        ),
        (
            "zoneOccupancySeries",
            _query(
                "zoneOccupancySeries",
                f', zoneId: "{zone}"',
                "cameraId zoneId bucketStarts mean max",
                "Bucket",
            ),
            fine,
        ),
        (
            "currentOccupancy",
            "query { currentOccupancy { cameraId zoneId count capacity at } }",
            {},
        ),
        ("dwell (all zones)", _query("dwell", "", "cameraId zoneId visits meanS p50S p90S"), {}),
        (
            "dwell (1 camera)",
            _query("dwell", f', cameraId: "{camera}"', "cameraId zoneId visits meanS p50S p90S"),
            {},
        ),
        (
            "queues (1 zone)",
            _query(
                "queues",
                f', zoneId: "{queue}"',
                "minute meanLength maxLength meanWaitS abandoned",
                "Bucket",
            ),
            fine,
        ),
        (
            "heatmap (1 camera)",
            _query("heatmap", f', cameraId: "{camera}"', "cols rows personSeconds flowDx flowDy"),
            {},
        ),
        (
            "visits (first 100)",
            _query(
                "visits",
                ", first: 100",
                "nodes { visitId linked startedAt enteredAt endedAt durationS path }"
                " pageInfo { hasNextPage }",
            ),
            {},
        ),
        ("journeyFlows", _query("journeyFlows", "", "source target visits"), {}),
        (
            "funnel",
            _query(
                "funnel",
                ', funnelId: "f1"',
                "visits stages { name visits conversion medianSecondsFromPrevious }",
            ),
            {},
        ),
    ]


async def measure(store: Store, dsn: str, nats_url: str, repeat: int) -> None:
    settings = GatewaySettings.model_validate(
        {
            "store_id": STORE,
            "database_url": dsn,
            "nats_url": nats_url,
            "jwt_secret": SECRET,
            "port": 0,
            "rollup_refresh_s": 3600,
            "ingest": IngestSettings(enabled=False),
            "log_json": False,
            "log_level": "WARNING",
        }
    )
    gateway = Gateway(settings)
    app = create_app(settings, gateway)
    port = free_port()
    server = build_server(app, gateway, "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started:
            break
        await asyncio.sleep(0.05)
    await asyncio.wait_for(gateway.schema_ready.wait(), 60)
    # The gateway's first maintenance pass (rollups, journeys) runs at start: let it finish,
    # so the figures are those of a gateway in its steady state.
    for _ in range(1200):
        refreshed = gateway.metrics.registry.get_sample_value(
            "trinetra_gateway_rollup_refresh_seconds_count"
        )
        if refreshed:
            break
        await asyncio.sleep(0.1)
    token = issue_token(SECRET, "bench", ["viewer"], ttl_s=3600)
    end = store.days[-1] + timedelta(days=1)
    ranges = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
    print(f"\n{'query':24s} {'range':6s} {'bucket':16s} {'rows':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    worst = 0.0
    medians: dict[tuple[str, str], float] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            for name, document, buckets in queries(store):
                for label, span in ranges.items():
                    variables = {"f": (end - span).isoformat(), "t": end.isoformat()}
                    if "$b" in document and label not in buckets:
                        continue  # a variant of a bucketed query for some ranges only
                    if label in buckets:
                        variables["b"] = buckets[label]
                    timings: list[float] = []
                    rows = 0
                    for i in range(repeat + 3):
                        started = time.perf_counter()
                        response = await http.post(
                            "/graphql", json={"query": document, "variables": variables}
                        )
                        elapsed = (time.perf_counter() - started) * 1000
                        body = response.json()
                        assert "errors" not in body, (name, label, body["errors"])
                        if i >= 3:  # warm-up
                            timings.append(elapsed)
                        value = next(iter(body["data"].values()))
                        if isinstance(value, list):
                            rows = len(value)
                        elif isinstance(value, dict) and "nodes" in value:
                            rows = len(value["nodes"])
                        else:
                            rows = 1
                    p50, p99 = statistics.median(timings), percentile(timings, 0.99)
                    medians.setdefault((name, label), p50)
                    worst = max(worst, p99)
                    print(
                        f"{name:24s} {label:6s} {buckets.get(label, '-'):16s} {rows:>6d}"
                        f" {p50:8.1f} {p99:8.1f}"
                    )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
    print(f"\nworst p99: {worst:.1f} ms (target <= 50 ms)")
    await where_time_goes(store, dsn, end, repeat, medians)


async def where_time_goes(
    store: Store, dsn: str, end: datetime, repeat: int, medians: dict[tuple[str, str], float]
) -> None:
    """The day of minutes (1,440 points) and the month of dwell, read straight from the
    database with the gateway's own functions: the rest of the HTTP time is GraphQL
    execution and serialization."""
    zone = store.zones[store.cameras[0]][0]
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    try:

        async def minutes() -> object:
            day = end - timedelta(days=1)
            return await occupancy.series(conn, STORE, day, end, Width.MINUTE, end, zone_id=zone)

        async def month_of_dwell() -> object:
            return await dwell.per_zone(conn, STORE, end - timedelta(days=30), end)

        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "zoneOccupancy (1 zone)": minutes,
            "dwell (all zones)": month_of_dwell,
        }
        print("\nwhere the time goes (p50 ms): database read by the gateway's function / HTTP")
        for name, call in cases.items():
            timings = []
            for i in range(repeat + 3):
                started = time.perf_counter()
                await call()
                if i >= 3:
                    timings.append((time.perf_counter() - started) * 1000)
            label = "day" if name.startswith("zoneOccupancy") else "month"
            print(
                f"  {name:24s} {label:6s} sql+decode {statistics.median(timings):6.1f}"
                f"  http {medians.get((name, label), float('nan')):6.1f}"
            )
        http = medians.get(("zoneOccupancySeries", "day"), float("nan"))
        print(f"  {'zoneOccupancySeries':24s} {'day':6s} (same points, 3 arrays)  http {http:6.1f}")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    store = Store(args.days, args.cameras)
    with LocalPostgres() as postgres, NatsServer(port=free_port()) as nats:
        dsn = postgres.create_database("bench_analytics")
        print(
            f"synthetic store: {args.days} days x {args.cameras} cameras, open "
            f"{OPEN_H}:00-{CLOSE_H}:00"
        )
        started = time.perf_counter()
        sizes = await load(dsn, store)
        print(f"setup: {time.perf_counter() - started:.1f} s")
        print("rows: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
        await measure(store, dsn, nats.url, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
