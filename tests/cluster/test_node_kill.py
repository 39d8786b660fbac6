"""kill -9 of the hub node that leads DETECTIONS, while a store streams into it: the
stream's new leader resumes copying from the store where the old one stopped, and the
hub's consumer (the gateway's ingest) stores every event once: 0 lost, 0 duplicated."""

from __future__ import annotations

import asyncio

import pytest

from devservices.nats_cluster import LocalNatsCluster
from tests.cluster.conftest import LeafFactory
from tests.cluster.helpers import client, frames_per_camera, hub_count, hub_events, join_store
from tests.cluster.hub_consumers import fetch_ids, ingest_replicas, redelivered, stored
from tests.cluster.store_publisher import frame
from tests.support.polling import eventually
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher

# The cut store runs under this test (conftest.py).
pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("wan_cut")]

STORE = "store-b"
CAMERAS = ("cam-0", "cam-1", "cam-2", "cam-3")
FRAMES = 400  # per camera, one per camera every 20 ms: ~8 s of traffic


async def test_killing_the_stream_leader_loses_and_duplicates_nothing(
    hub: LocalNatsCluster, leaf_factory: LeafFactory, database_url: str
) -> None:
    leaf = leaf_factory(STORE)
    await join_store(hub, leaf)
    total = FRAMES * len(CAMERAS)
    async with (
        client(hub.urls) as nc,
        ingest_replicas(hub.urls, database_url, ("DETECTIONS",), replicas=1, durable="kill") as (
            metrics,
        ),
        NatsConnection(leaf.url) as conn,
        EventPublisher(conn) as publisher,
    ):

        async def publish_steadily() -> None:
            for seq in range(FRAMES):
                for camera in CAMERAS:
                    publisher.publish(frame(STORE, camera, seq))
                await asyncio.sleep(0.02)
            assert await publisher.flush(30)

        publishing = asyncio.create_task(publish_steadily())
        await eventually(
            lambda: _at_least(hub_count(nc, "DETECTIONS", STORE), total // 4),
            30,
            interval_s=0.1,
            message="a quarter of the store's events at the hub",
        )
        info = await nc.jetstream(timeout=10).stream_info("DETECTIONS")
        assert info.cluster is not None and info.cluster.leader
        leader = hub.node_named(info.cluster.leader)
        killed_at = await hub_count(nc, "DETECTIONS", STORE)
        leader.kill()
        await asyncio.sleep(2)
        await asyncio.to_thread(leader.start)
        await publishing
        await eventually(
            lambda: _equals(hub_count(nc, "DETECTIONS", STORE), total),
            60,
            message=f"all {total} events at the hub",
        )
        events = await hub_events(nc, "DETECTIONS", STORE, total + 1)
        assert frames_per_camera(events) == {c: list(range(FRAMES)) for c in CAMERAS}

        async def ingested() -> bool:
            return len(await fetch_ids(database_url, "detections", STORE)) == total

        await eventually(ingested, 60, message=f"all {total} events in the database")
        await asyncio.sleep(3.5)  # past ack_wait: a late redelivery would be stored by now
        ids = await fetch_ids(database_url, "detections", STORE)
        replayed = redelivered(metrics, "DETECTIONS")
        assert stored(metrics, "DETECTIONS") >= total
    expected = {str(frame(STORE, c, s).event_id) for c in CAMERAS for s in range(FRAMES)}
    assert len(ids) == total and set(ids) == expected
    print(
        f"\nhub node kill: leader {leader.server_name} killed at {killed_at}/{total} of the "
        f"store's events; hub stream and database hold {total} once each, "
        f"{replayed:g} redelivered copies stored nothing"
    )


async def _equals(value: object, expected: int) -> bool:
    return bool(await value == expected)  # type: ignore[misc]


async def _at_least(value: object, low: int) -> bool:
    return bool(await value >= low)  # type: ignore[misc]
