"""Every analytics query against figures computed by hand from the events published:
real NATS JetStream, a real gateway ingesting into PostgreSQL and serving GraphQL. Late
and duplicated events are counted once, in their own buckets."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from gateway.db.analytics.buckets import Width, floor
from tests.gateway.analytics_helpers import (
    abandonment,
    analytics_gateway,
    analytics_publisher,
    crossing,
    heatmap_grid,
    identity,
    occupancy_change,
    queue_snapshot,
    refreshed,
    scalar,
    stay,
    track_uid,
)
from tests.gateway.helpers import RunningGateway
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import Event, encode, subject_for

pytestmark = pytest.mark.timeout(240)

# Three hours ago, on an hour: every bucket below is complete.
H0 = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
VISIT = uuid.uuid4()
A = track_uid("cam-a", 1, H0 + timedelta(minutes=5))
B = track_uid("cam-b", 2, H0 + timedelta(minutes=12))
C = track_uid("cam-a", 3, H0 + timedelta(minutes=70))


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return H0 + timedelta(minutes=minutes, seconds=seconds)


def iso(moment: datetime) -> str:
    return moment.isoformat()


CONFIG: dict[str, Any] = {
    "zones": [
        {
            "id": zone,
            "camera_id": camera,
            "name": zone.upper(),
            "kind": kind,
            "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
            **({"capacity": 5} if zone == "z1" else {}),
        }
        for zone, camera, kind in (
            ("z1", "cam-a", "area"),
            ("z2", "cam-a", "display"),
            ("z3", "cam-b", "checkout"),
        )
    ],
    "funnels": [
        {
            "id": "f1",
            "name": "entry to checkout",
            "stages": [
                {"kind": "store_entry"},
                {"kind": "zone", "zone_ids": ["z1"]},
                {"kind": "zone_kind", "zone_kind": "checkout"},
            ],
        }
    ],
}


def published() -> list[Event]:
    """The store's morning, as the analytics service would publish it (hand figures in
    the test below)."""
    return [
        # footfall: the door counts store entries; the aisle does not
        crossing("cam-a", "door", 1, at(5), store_entry=True, uid=A),
        crossing("cam-a", "door", 4, at(10), store_entry=True),
        crossing("cam-a", "door", 5, at(20), store_entry=True),
        crossing("cam-a", "door", 6, at(50), "out", store_entry=True),
        crossing("cam-a", "door", 7, at(70), store_entry=True),
        crossing("cam-b", "aisle", 8, at(5)),
        crossing("cam-b", "aisle", 8, at(6), "out"),
        # occupancy of z1: 0 -> 2 at 0:10, -> 1 at 0:40, -> 3 at 1:30
        occupancy_change("cam-a", "z1", at(0, 10), 2, 0, capacity=5),
        occupancy_change("cam-a", "z1", at(0, 40), 1, 2, capacity=5),
        occupancy_change("cam-a", "z1", at(1, 30), 3, 1, capacity=5),
        # dwell in z2: 10, 20, 30, 40, 100 s
        *(stay("cam-a", "z2", 20 + i, at(30, 0), d) for i, d in enumerate((10, 20, 30, 40, 100))),
        # a queue: two snapshots in minute 0, one in minute 1; an abandonment in each
        queue_snapshot("cam-b", "q1", at(0, 5), 2, 60.0),
        queue_snapshot("cam-b", "q1", at(0, 35), 4, 120.0),
        queue_snapshot("cam-b", "q1", at(1, 5), 1, None),
        abandonment("cam-b", "q1", 30, at(0, 20)),
        abandonment("cam-b", "q1", 31, at(1, 10)),
        # heatmap of cam-a: two minutes of the first hour, one of the second
        heatmap_grid("cam-a", at(0), {0: 1.5, 5: 2.0}, flow={5: (0.1, -0.2, 4)}),
        heatmap_grid("cam-a", at(1), {5: 3.0}, flow={5: (0.3, 0.2, 2)}),
        heatmap_grid("cam-a", at(60), {1: 4.0}),
        # journeys: track A (cam-a) and B (cam-b) are one visitor (cust-7); C is alone
        stay("cam-a", "z1", 1, at(6), 60.0, uid=A),
        stay("cam-a", "z2", 1, at(8), 30.0, uid=A),
        stay("cam-b", "z3", 2, at(12), 40.0, uid=B),
        stay("cam-a", "z1", 3, at(70), 20.0, uid=C),
        identity("cam-a", 1, A, VISIT, at(7), customer="cust-7"),
        identity("cam-b", 2, B, VISIT, at(13)),
    ]


@pytest.fixture
async def analytics(
    database_url: str, nats_server: NatsServer
) -> AsyncIterator[tuple[RunningGateway, EventPublisher]]:
    async with (
        analytics_gateway(database_url, nats_server.url) as gateway,
        analytics_publisher(nats_server.url) as publisher,
    ):
        yield gateway, publisher


async def ingested(gateway: RunningGateway, table: str, rows: int) -> None:
    async def done() -> bool:
        return int(await scalar(gateway, f"SELECT count(*) FROM {table}")) == rows

    await eventually(done, 60, message=f"{rows} rows in {table}")


async def test_each_query_gives_the_figures_computed_by_hand(
    analytics: tuple[RunningGateway, EventPublisher], nats_server: NatsServer
) -> None:
    gateway, publisher = analytics
    configured = await gateway.data(
        "mutation ($c: JSON!) { replaceAnalyticsConfig(config: $c, expectedVersion: 0) "
        "{ version } }",
        {"c": CONFIG},
        scopes=("operator",),
    )
    assert configured["replaceAnalyticsConfig"]["version"] == 1
    for event in published():
        publisher.publish(event)
    assert await publisher.flush(10)
    await ingested(gateway, "line_crossings", 7)
    await ingested(gateway, "zone_stays", 9)
    await ingested(gateway, "heatmap_grids", 3)
    await ingested(gateway, "identity_events", 2)
    await ingested(gateway, "queue_abandonments", 2)
    await ingested(gateway, "zone_occupancy_changes", 3)
    await ingested(gateway, "queue_snapshots", 3)
    await refreshed(gateway)

    async def query(document: str, **variables: Any) -> Any:
        return await gateway.data(document, variables)

    # --- footfall --------------------------------------------------------------------
    series = """query ($f: DateTime!, $t: DateTime!, $b: Bucket!) {
        footfall(from: $f, to: $t, bucket: $b) { bucketStart lineId cameraId entries exits } }"""
    quarter = await query(series, f=iso(at(0)), t=iso(at(120)), b="FIFTEEN_MINUTES")
    assert [
        (p["bucketStart"], p["cameraId"], p["lineId"], p["entries"], p["exits"])
        for p in quarter["footfall"]
    ] == [
        (iso(at(0)), "cam-a", "door", 2, 0),
        (iso(at(0)), "cam-b", "aisle", 1, 1),
        (iso(at(15)), "cam-a", "door", 1, 0),
        (iso(at(45)), "cam-a", "door", 0, 1),
        (iso(at(60)), "cam-a", "door", 1, 0),
    ]
    hourly = await query(series, f=iso(at(0)), t=iso(at(120)), b="HOUR")
    assert {
        (p["bucketStart"], p["lineId"], p["entries"], p["exits"]) for p in hourly["footfall"]
    } == {
        (iso(at(0)), "door", 3, 1),
        (iso(at(0)), "aisle", 1, 1),
        (iso(at(60)), "door", 1, 0),
    }
    daily = await query(series, f=iso(at(-24 * 60)), t=iso(at(24 * 60)), b="DAY")
    expected_days: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for minute, line, direction in [
        (5, "door", 0),
        (10, "door", 0),
        (20, "door", 0),
        (50, "door", 1),
        (70, "door", 0),
        (5, "aisle", 0),
        (6, "aisle", 1),
    ]:
        expected_days[(iso(floor(at(minute), Width.DAY)), line)][direction] += 1
    assert {
        (p["bucketStart"], p["lineId"]): [p["entries"], p["exits"]] for p in daily["footfall"]
    } == dict(expected_days)
    totals = await query(
        "query ($f: DateTime!, $t: DateTime!) { footfallTotals(from: $f, to: $t) "
        "{ entries exits } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert totals["footfallTotals"] == {"entries": 4, "exits": 1}

    # --- occupancy -------------------------------------------------------------------
    occupancy = """query ($f: DateTime!, $t: DateTime!, $b: Bucket!) {
        zoneOccupancy(from: $f, to: $t, zoneId: "z1", bucket: $b) { minute zoneId mean max } }"""
    minutes = (await query(occupancy, f=iso(at(0)), t=iso(at(3)), b="MINUTE"))["zoneOccupancy"]
    assert [(p["minute"], round(p["mean"], 6), p["max"]) for p in minutes] == [
        (iso(at(0)), round(80 / 60, 6), 2),  # 10 s at 0, 30 s at 2, 20 s at 1
        (iso(at(1)), 2.0, 3),  # 30 s at 1, 30 s at 3
        (iso(at(2)), 3.0, 3),  # no change: holds 3
    ]
    # the compact series: the same figures as parallel arrays, one series per zone
    compact = """query ($f: DateTime!, $t: DateTime!) { zoneOccupancySeries(from: $f, to: $t,
        zoneId: "z1") { cameraId zoneId bucketStarts mean max } }"""
    [z1] = (await query(compact, f=iso(at(0)), t=iso(at(3))))["zoneOccupancySeries"]
    assert (z1["cameraId"], z1["zoneId"]) == ("cam-a", "z1")
    assert list(zip(z1["bucketStarts"], z1["mean"], z1["max"], strict=True)) == [
        (p["minute"], p["mean"], p["max"]) for p in minutes
    ]
    hour = (await query(occupancy, f=iso(at(0)), t=iso(at(60)), b="HOUR"))["zoneOccupancy"]
    assert [(p["minute"], round(p["mean"], 6), p["max"]) for p in hour] == [
        (iso(at(0)), round((30 * 2 + 50 * 1 + (3600 - 90) * 3) / 3600, 6), 3)
    ]
    quarter_occupancy = await query(occupancy, f=iso(at(0)), t=iso(at(15)), b="FIFTEEN_MINUTES")
    assert round(quarter_occupancy["zoneOccupancy"][0]["mean"], 6) == round(
        (30 * 2 + 50 * 1 + (900 - 90) * 3) / 900, 6
    )
    current = await query("{ currentOccupancy { cameraId zoneId count capacity at } }")
    assert current["currentOccupancy"] == [
        {"cameraId": "cam-a", "zoneId": "z1", "count": 3, "capacity": 5, "at": iso(at(1, 30))}
    ]

    # --- dwell -----------------------------------------------------------------------
    dwell = await query(
        'query ($f: DateTime!, $t: DateTime!) { dwell(from: $f, to: $t, zoneId: "z2") '
        "{ cameraId zoneId visits meanS p50S p90S } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    [z2] = dwell["dwell"]
    # 10, 20, 30, 40, 100 s and A's 30 s stay: six stays
    assert (z2["zoneId"], z2["visits"], round(z2["meanS"], 6)) == ("z2", 6, round(230 / 6, 6))

    def bucket_of(value: float) -> tuple[float, float]:
        """The documented histogram bucket of a dwell: [2^((k-1)/16), 2^(k/16))."""
        k = 1 + math.floor(16 * math.log(value) / math.log(2))
        return 2 ** ((k - 1) / 16), 2 ** (k / 16)

    # p50: rank 0.5 x 6 = 3 of [10, 20, 30, 30, 40, 100]: two stays below 30's bucket,
    # which holds two, so halfway into it; p90: rank 5.4, alone in 100's bucket.
    low, high = bucket_of(30)
    assert z2["p50S"] == pytest.approx(low + (high - low) * (3 - 2) / 2)
    assert abs(z2["p50S"] - 30) <= 0.0443 * 30
    low, high = bucket_of(100)
    assert z2["p90S"] == pytest.approx(low + (high - low) * (5.4 - 5))
    assert abs(z2["p90S"] - 100) <= 0.0443 * 100

    # --- queues ----------------------------------------------------------------------
    queues = await query(
        'query ($f: DateTime!, $t: DateTime!) { queues(from: $f, to: $t, zoneId: "q1") '
        "{ minute cameraId zoneId meanLength maxLength meanWaitS abandoned } }",
        f=iso(at(0)),
        t=iso(at(5)),
    )
    assert queues["queues"] == [
        {
            "minute": iso(at(0)),
            "cameraId": "cam-b",
            "zoneId": "q1",
            "meanLength": 3.0,
            "maxLength": 4,
            "meanWaitS": 90.0,
            "abandoned": 1,
        },
        {
            "minute": iso(at(1)),
            "cameraId": "cam-b",
            "zoneId": "q1",
            "meanLength": 1.0,
            "maxLength": 1,
            "meanWaitS": None,
            "abandoned": 1,
        },
    ]

    # --- heatmap ---------------------------------------------------------------------
    grid = """query ($f: DateTime!, $t: DateTime!) { heatmap(cameraId: "cam-a", from: $f, to: $t)
        { cameraId cols rows minutes personSeconds flowDx flowDy } }"""
    first_hour = (await query(grid, f=iso(at(0)), t=iso(at(60))))["heatmap"]
    assert (first_hour["cols"], first_hour["rows"], first_hour["minutes"]) == (4, 3, 2)
    assert first_hour["personSeconds"] == [1.5, 0, 0, 0, 0, 5.0, 0, 0, 0, 0, 0, 0]
    assert first_hour["flowDx"][5] == pytest.approx((0.1 * 4 + 0.3 * 2) / 6)
    assert first_hour["flowDy"][5] == pytest.approx((-0.2 * 4 + 0.2 * 2) / 6)
    both = (await query(grid, f=iso(at(0)), t=iso(at(120))))["heatmap"]
    assert both["minutes"] == 3 and both["personSeconds"][1] == 4.0

    # --- visits, journeys, funnel ----------------------------------------------------
    visits_query = """query ($f: DateTime!, $t: DateTime!, $first: Int!, $after: String) {
        visits(from: $f, to: $t, first: $first, after: $after) {
          nodes { visitId linked customerId startedAt enteredAt endedAt durationS path cameraIds }
          pageInfo { endCursor hasNextPage } } }"""
    page = (await query(visits_query, f=iso(at(0)), t=iso(at(120)), first=1, after=None))["visits"]
    [newest] = page["nodes"]
    assert newest["visitId"] == str(C) and newest["path"] == ["z1"] and not newest["linked"]
    assert page["pageInfo"]["hasNextPage"]
    rest = await query(
        visits_query, f=iso(at(0)), t=iso(at(120)), first=10, after=page["pageInfo"]["endCursor"]
    )
    [joined] = rest["visits"]["nodes"]
    assert joined == {
        "visitId": str(VISIT),
        "linked": True,
        "customerId": None,  # viewers do not see customer ids
        "startedAt": iso(at(5)),
        "enteredAt": iso(at(5)),
        "endedAt": iso(at(12, 40)),
        "durationS": 460.0,
        "path": ["z1", "z2", "z3"],
        "cameraIds": ["cam-a", "cam-b"],
    }
    officer = await gateway.data(
        visits_query,
        {"f": iso(at(0)), "t": iso(at(120)), "first": 10, "after": None},
        scopes=("privacy_officer",),
    )
    assert [n["customerId"] for n in officer["visits"]["nodes"]] == [None, "cust-7"]
    flows = await query(
        "query ($f: DateTime!, $t: DateTime!) { journeyFlows(from: $f, to: $t) "
        "{ source target visits } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert {(f["source"], f["target"], f["visits"]) for f in flows["journeyFlows"]} == {
        ("entrance", "z1", 2),
        ("z1", "z2", 1),
        ("z2", "z3", 1),
        ("z3", "exit", 1),
        ("z1", "exit", 1),
    }
    unique = await query(
        "query ($f: DateTime!, $t: DateTime!) { uniqueVisits(from: $f, to: $t, bucket: HOUR) "
        "{ bucketStart visits entered } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert unique["uniqueVisits"] == [
        {"bucketStart": iso(at(0)), "visits": 1, "entered": 1},
        {"bucketStart": iso(at(60)), "visits": 1, "entered": 0},
    ]
    funnel = await query(
        'query ($f: DateTime!, $t: DateTime!) { funnel(funnelId: "f1", from: $f, to: $t) '
        "{ funnelId name visits stages { name visits conversion medianSecondsFromPrevious } } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert funnel["funnel"] == {
        "funnelId": "f1",
        "name": "entry to checkout",
        "visits": 2,
        "stages": [
            {
                "name": "store entry",
                "visits": 1,
                "conversion": 0.5,
                "medianSecondsFromPrevious": None,
            },
            {"name": "z1", "visits": 1, "conversion": 1.0, "medianSecondsFromPrevious": 60.0},
            {
                "name": "any checkout zone",
                "visits": 1,
                "conversion": 1.0,
                "medianSecondsFromPrevious": 360.0,
            },
        ],
    }

    # An edited funnel applies to the visits already stored.
    await gateway.data(
        "mutation ($f: JSON!) { putFunnel(funnel: $f) { version } }",
        {
            "f": {
                "id": "f1",
                "name": "entry to checkout",
                "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["z3"]}],
            }
        },
        scopes=("operator",),
    )
    edited = await query(
        'query ($f: DateTime!, $t: DateTime!) { funnel(funnelId: "f1", from: $f, to: $t) '
        "{ stages { name visits medianSecondsFromPrevious } } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert edited["funnel"]["stages"] == [
        {"name": "store entry", "visits": 1, "medianSecondsFromPrevious": None},
        {"name": "z3", "visits": 1, "medianSecondsFromPrevious": 420.0},
    ]

    # --- a late crossing and redelivered ones: counted once, in their own bucket -------
    late = crossing("cam-a", "door", 9, at(7), store_entry=True)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for event in [late, late, *published()[:5]]:
        await js.publish(subject_for(event), encode(event))
    await nc.close()
    await ingested(gateway, "line_crossings", 8)

    async def counted() -> bool:
        await refreshed(gateway)
        again = await query(series, f=iso(at(0)), t=iso(at(60)), b="HOUR")
        door = [p for p in again["footfall"] if p["lineId"] == "door"]
        return door == [
            {
                "bucketStart": iso(at(0)),
                "lineId": "door",
                "cameraId": "cam-a",
                "entries": 4,
                "exits": 1,
            }
        ]

    await eventually(counted, 30, message="the late crossing counted once")
    totals = await query(
        "query ($f: DateTime!, $t: DateTime!) { footfallTotals(from: $f, to: $t) "
        "{ entries exits } }",
        f=iso(at(0)),
        t=iso(at(120)),
    )
    assert totals["footfallTotals"] == {"entries": 5, "exits": 1}


async def test_bounds_and_bad_arguments_are_clear_errors(
    analytics: tuple[RunningGateway, EventPublisher],
) -> None:
    gateway, _ = analytics
    too_many = await gateway.graphql(
        "query ($f: DateTime!, $t: DateTime!) { zoneOccupancy(from: $f, to: $t, bucket: MINUTE) "
        "{ mean } }",
        {"f": iso(at(-30 * 24 * 60)), "t": iso(at(0))},
    )
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "buckets" in too_many["errors"][0]["message"]
    zone = await gateway.graphql(
        'query ($f: DateTime!, $t: DateTime!) { footfall(from: $f, to: $t, timeZone: "Mars/Base")'
        " { entries } }",
        {"f": iso(at(0)), "t": iso(at(60))},
    )
    assert zone["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "timeZone"}
    missing = await gateway.graphql(
        'query ($f: DateTime!, $t: DateTime!) { funnel(funnelId: "nope", from: $f, to: $t) '
        "{ visits } }",
        {"f": iso(at(0)), "t": iso(at(60))},
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unauthenticated = await gateway.http.post(
        "/graphql", json={"query": "{ currentOccupancy { count } }"}
    )
    assert unauthenticated.status_code == 401
