"""Every analytics kind from the ANALYTICS stream into its table, once: real NATS
JetStream (the analytics service's stream), a real gateway ingesting into PostgreSQL.
Redelivered copies store nothing, the derived tables (newest occupancy per zone, heatmap
sums) see each event once and in any order, and a kind the schema does not know is kept
aside as every refused message is."""

from __future__ import annotations

from datetime import timedelta

import nats
import pytest

from tests.gateway.analytics_helpers import (
    abandonment,
    analytics_gateway,
    analytics_publisher,
    crossing,
    dwell_exceeded,
    heatmap_grid,
    occupancy_change,
    queue_snapshot,
    scalar,
    stay,
    track_uid,
    visit_ended,
    zone_entered,
)
from tests.gateway.helpers import STORE, T0
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.schema import (
    STORE_CAMERA_ID,
    AreaOccupancyEvent,
    Event,
    analytics_subject,
    encode,
    subject_for,
)

pytestmark = pytest.mark.timeout(180)

TABLES = {
    "line_crossings": 2,
    "zone_stays": 1,
    "zone_occupancy_changes": 3,
    "queue_snapshots": 1,
    "queue_abandonments": 1,
    "heatmap_grids": 2,
    "visits": 1,
    "analytics_events": 3,  # zone.entered, zone.dwell_exceeded, area.occupancy
}


def every_kind() -> list[Event]:
    uid = track_uid("cam-a", 1, T0)
    return [
        crossing("cam-a", "door", 1, T0 + timedelta(seconds=1), store_entry=True, uid=uid),
        crossing("cam-a", "door", 2, T0 + timedelta(seconds=3), "out", store_entry=True),
        zone_entered("cam-a", "z1", 1, T0 + timedelta(seconds=4)),
        dwell_exceeded("cam-a", "z1", 1, T0 + timedelta(seconds=4)),
        stay("cam-a", "z1", 1, T0 + timedelta(seconds=4), 75.5, uid=uid),
        # the newest occupancy change is published first: it must still win
        occupancy_change("cam-a", "z1", T0 + timedelta(seconds=80), 0, 1, capacity=4),
        occupancy_change("cam-a", "z1", T0 + timedelta(seconds=4), 1, 0, capacity=4),
        occupancy_change("cam-a", "z2", T0 + timedelta(seconds=9), 2, 0),
        AreaOccupancyEvent(
            camera_id=STORE_CAMERA_ID,
            store_id=STORE,
            occurred_at=T0 + timedelta(seconds=4),
            config_version=1,
            area="floor",
            count=1,
            previous=0,
        ),
        queue_snapshot("cam-b", "q1", T0 + timedelta(seconds=10), 3, 90.0),
        abandonment("cam-b", "q1", 9, T0 + timedelta(seconds=12)),
        heatmap_grid("cam-a", T0, {0: 1.5, 5: 2.0}, flow={5: (0.1, -0.2, 4)}),
        heatmap_grid("cam-a", T0 + timedelta(minutes=1), {5: 3.0}, flow={5: (0.3, 0.2, 2)}),
        visit_ended("cam-a", 1, T0 + timedelta(seconds=1), T0 + timedelta(seconds=90), ["z1"]),
    ]


async def test_every_analytics_kind_is_stored_once(
    database_url: str, nats_server: NatsServer
) -> None:
    events = every_kind()
    async with (
        analytics_gateway(database_url, nats_server.url) as gateway,
        analytics_publisher(nats_server.url) as publisher,
    ):
        for event in events:
            publisher.publish(event)
        assert await publisher.flush(10)
        # The same events again under new message ids (past JetStream's dedup), and a kind
        # nobody knows: redeliveries as the database sees them, and a refused message.
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        for event in events:
            await js.publish(subject_for(event), encode(event))
        await js.publish(
            analytics_subject(STORE, "cam-a"),
            b'{"schema_version": 1, "kind": "zone.teleported", "camera_id": "cam-a"}',
        )
        await nc.close()

        def duplicates() -> float:
            return read_metric(
                gateway.gateway.metrics.registry,
                "trinetra_gateway_ingest_duplicates_total",
                {"stream": "ANALYTICS"},
            )

        async def settled() -> bool:
            for table, rows in TABLES.items():
                if await scalar(gateway, f"SELECT count(*) FROM {table}") != rows:
                    return False
            return (
                duplicates() == len(events)
                and await scalar(gateway, "SELECT count(*) FROM rejected_events") == 1
            )

        await eventually(settled, 60)

        crossing_row = await gateway.gateway.db.pool.fetchrow(
            "SELECT * FROM line_crossings WHERE direction = 'in'"
        )
        assert crossing_row is not None
        assert crossing_row["crossed_at"] == T0 + timedelta(seconds=1)
        assert crossing_row["track_uid"] == track_uid("cam-a", 1, T0)
        assert crossing_row["counts_store_entry"] and crossing_row["config_version"] == 1
        stay_row = await gateway.gateway.db.pool.fetchrow("SELECT * FROM zone_stays")
        assert stay_row is not None
        assert (stay_row["zone_id"], stay_row["dwell_s"]) == ("z1", 75.5)
        assert stay_row["reason"] == "exited"
        assert stay_row["exited_at"] == T0 + timedelta(seconds=79.5)

        current = await gateway.gateway.db.pool.fetch(
            "SELECT zone_id, count, capacity, at FROM zone_occupancy_current ORDER BY zone_id"
        )
        assert [(r["zone_id"], r["count"], r["capacity"], r["at"]) for r in current] == [
            ("z1", 0, 4, T0 + timedelta(seconds=80)),
            ("z2", 2, None, T0 + timedelta(seconds=9)),
        ]
        hour = await gateway.gateway.db.pool.fetchrow("SELECT * FROM heatmap_hour")
        assert hour is not None and hour["grids"] == 2
        assert hour["person_seconds"][0] == 1.5 and hour["person_seconds"][5] == 5.0
        assert hour["flow_samples"][5] == 6
        assert hour["flow_dx_sum"][5] == pytest.approx(0.1 * 4 + 0.3 * 2)
        day = await gateway.gateway.db.pool.fetchrow("SELECT grids FROM heatmap_day")
        assert day is not None and day["grids"] == 2
        kinds = await gateway.gateway.db.pool.fetch(
            "SELECT kind, subject, camera_id FROM analytics_events ORDER BY kind"
        )
        assert [(r["kind"], r["subject"], r["camera_id"]) for r in kinds] == [
            ("area.occupancy", "floor", STORE_CAMERA_ID),
            ("zone.dwell_exceeded", "z1", "cam-a"),
            ("zone.entered", "z1", "cam-a"),
        ]
        visit = await gateway.gateway.db.pool.fetchrow("SELECT * FROM visits")
        assert visit is not None and visit["path"] == ["z1"]
        assert visit["funnel_stages"] == {"f1": 2}
        assert visit["track_uids"] == [track_uid("cam-a", 1, T0 + timedelta(seconds=1))]
        rejected = await gateway.gateway.db.pool.fetchrow(
            "SELECT stream, error FROM rejected_events"
        )
        assert rejected is not None and rejected["stream"] == "ANALYTICS"
        assert "zone.teleported" in rejected["error"]
