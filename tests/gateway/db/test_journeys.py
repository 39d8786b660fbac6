"""Journeys joined in the database (gateway/db/analytics/journeys.py): per-camera when the
identity service said nothing, across cameras through its visit id (also when its
decision arrives after the stays), through an enrolled customer's id within the journey
gap, split again when a decision moves a track elsewhere; counts and flows follow, and a
replay changes nothing. Real PostgreSQL, the gateway's own ingest writer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from gateway.db.analytics import config
from gateway.db.analytics.journeys import refresh_journeys
from gateway.db.database import Database
from tests.gateway.analytics_helpers import crossing, identity, stay, track_uid, write
from tests.gateway.helpers import STORE, T0
from trinetra.events.schema import Event

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, max_size=2)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


async def journeys(db: Database) -> list[asyncpg.Record]:
    async with db.connection() as conn:
        await refresh_journeys(conn)
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT * FROM journeys WHERE store_id = $1 ORDER BY started_at", STORE
        )
    return rows


async def flows(db: Database) -> set[tuple[str, str, int]]:
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT source, target, sum(visits) AS n FROM journey_flows GROUP BY source, target"
        )
    return {(r["source"], r["target"], int(r["n"])) for r in rows}


async def counts(db: Database) -> tuple[int, int]:
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT sum(visits) AS v, sum(entered) AS e FROM journey_counts")
    assert row is not None
    return int(row["v"] or 0), int(row["e"] or 0)


async def test_cameras_join_through_the_visit_id_even_when_it_comes_late(db: Database) -> None:
    a = track_uid("cam-a", 1, T0)
    b = track_uid("cam-b", 7, T0 + timedelta(seconds=50))
    seen: list[Event] = [
        crossing("cam-a", "door", 1, T0 + timedelta(seconds=2), store_entry=True, uid=a),
        stay("cam-a", "z1", 1, T0 + timedelta(seconds=5), 20.0, uid=a),
        stay("cam-a", "z2", 1, T0 + timedelta(seconds=30), 10.0, uid=a),
        stay("cam-b", "z3", 7, T0 + timedelta(seconds=60), 40.0, uid=b),
        stay("cam-b", "z3", 7, T0 + timedelta(seconds=101), 5.0, uid=b),  # repeat: once
        crossing("cam-b", "back", 7, T0 + timedelta(seconds=110), "out", store_entry=True, uid=b),
    ]
    await write(db, seen)
    # No identity decision yet: two per-camera journeys.
    first = await journeys(db)
    assert [(r["journey_id"], r["path"], r["linked"]) for r in first] == [
        (a, ["z1", "z2"], False),
        (b, ["z3"], False),
    ]
    assert first[0]["entered_at"] == T0 + timedelta(seconds=2)
    assert await counts(db) == (2, 1)

    # The identity service links both tracks into one visit, after the fact.
    visit = uuid.uuid4()
    await write(
        db,
        [
            identity("cam-a", 1, a, visit, T0 + timedelta(seconds=8)),
            identity("cam-b", 7, b, visit, T0 + timedelta(seconds=65)),
        ],
        stream="IDENTITY",
    )
    [joined] = await journeys(db)
    assert joined["journey_id"] == visit and joined["linked"] and joined["tracks"] == 2
    assert joined["path"] == ["z1", "z2", "z3"]
    assert joined["camera_ids"] == ["cam-a", "cam-b"]
    assert joined["started_at"] == T0 + timedelta(seconds=2)
    assert joined["ended_at"] == T0 + timedelta(seconds=110)
    assert joined["duration_s"] == pytest.approx(108.0)
    assert await counts(db) == (1, 1)
    assert await flows(db) == {
        ("entrance", "z1", 1),
        ("z1", "z2", 1),
        ("z2", "z3", 1),
        ("z3", "exit", 1),
    }

    # Replayed events change nothing.
    await write(db, seen)
    assert [dict(r) | {"updated_at": None} for r in await journeys(db)] == [
        dict(joined) | {"updated_at": None}
    ]

    # A later decision moves cam-b's track to another visit: the journey splits again.
    other = uuid.uuid4()
    await write(db, [identity("cam-b", 7, b, other, T0 + timedelta(seconds=90))], stream="IDENTITY")
    split = await journeys(db)
    assert sorted((r["journey_id"], tuple(r["path"])) for r in split) == sorted(
        [(visit, ("z1", "z2")), (other, ("z3",))]
    )
    assert await counts(db) == (2, 1)


async def test_an_enrolled_customer_joins_visits_within_the_gap(db: Database) -> None:
    c = track_uid("cam-a", 3, T0)
    d = track_uid("cam-b", 4, T0 + timedelta(minutes=10))
    e = track_uid("cam-a", 5, T0 + timedelta(hours=3))
    v1, v2, v3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stays: list[Event] = [
        stay("cam-a", "z1", 3, T0, 30.0, uid=c),
        stay("cam-b", "z4", 4, T0 + timedelta(minutes=10), 30.0, uid=d),
        stay("cam-a", "z2", 5, T0 + timedelta(hours=3), 30.0, uid=e),
    ]
    await write(db, stays)
    await write(
        db,
        [
            identity("cam-a", 3, c, v1, T0 + timedelta(seconds=5), customer="cust-9"),
            identity("cam-b", 4, d, v2, T0 + timedelta(minutes=10, seconds=5), customer="cust-9"),
            identity("cam-a", 5, e, v3, T0 + timedelta(hours=3, seconds=5), customer="cust-9"),
        ],
        stream="IDENTITY",
    )
    rows = await journeys(db)
    assert [(r["journey_id"], r["path"], r["customer_id"]) for r in rows] == [
        (v1, ["z1", "z4"], "cust-9"),  # 10 minutes apart: one visit
        (v3, ["z2"], "cust-9"),  # 3 hours later: another
    ]


async def test_a_funnel_change_then_a_rewritten_journey_refreshes_cleanly(db: Database) -> None:
    """Regression: when a store's funnels changed, the refresh re-evaluates all its
    journeys and must not then write the rewritten ones a second time (the duplicate key
    made every refresh fail, so no figure moved again)."""
    a = track_uid("cam-a", 1, T0)
    await write(
        db,
        [
            crossing("cam-a", "door", 1, T0 + timedelta(seconds=2), store_entry=True, uid=a),
            stay("cam-a", "z1", 1, T0 + timedelta(seconds=5), 20.0, uid=a),
        ],
    )
    assert [r["path"] for r in await journeys(db)] == [["z1"]]
    funnel = {
        "id": "f",
        "name": "Entered, z2",
        "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["z2"]}],
    }
    # A version number no other test stores: validated configurations are cached per
    # (store, version) for the process, and the suite runs many databases in one process.
    version = 90_210
    async with db.connection() as conn:
        await config.insert(
            conn,
            STORE,
            version,
            {
                "store_id": STORE,
                "version": version,
                "zones": [
                    {
                        "id": "z2",
                        "camera_id": "cam-a",
                        "name": "Z2",
                        "kind": "area",
                        "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]],
                    }
                ],
                "funnels": [funnel],
            },
            actor="test",
            action="replace",
            reason=None,
            diff={},
        )
    # The same journey gains a stay: it is rewritten in the refresh that syncs the funnel.
    await write(db, [stay("cam-a", "z2", 1, T0 + timedelta(seconds=30), 10.0, uid=a)])
    [journey] = await journeys(db)
    assert journey["path"] == ["z1", "z2"]
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT funnel_id, reached FROM journey_funnels")
    assert [(r["funnel_id"], r["reached"]) for r in rows] == [("f", 2)]
