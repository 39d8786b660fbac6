"""Two gateway ingest replicas and two analytics replicas at the hub, on the hub's consumer
groups, into one database: every detection stored once, every analytics figure made
once (the same events as one uninterrupted process), each crossing counted once.

Ingest replicas share one durable consumer per stream (JetStream hands each message to
one of them); analytics replicas are the store's two partitions, each the single owner
of its cameras (analytics.partition says why a camera cannot be shared)."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack

import pytest

from devservices.nats_cluster import LocalNatsCluster
from tests.analytics.scenarios import STORE, facts, store_config, store_frames
from tests.analytics.service_helpers import consumed, running_service
from tests.analytics.test_service import CAMERAS, reference
from tests.cluster.conftest import LeafFactory
from tests.cluster.helpers import client, hub_count, hub_events, join_store
from tests.cluster.hub_consumers import fetch_ids, ingest_replicas, stored
from tests.support.polling import eventually
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import subject_for
from trinetra.vocabulary import EventKind

# The cut store runs under this test (conftest.py).
pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("wan_cut")]


async def test_two_replicas_each_count_every_event_once(
    hub: LocalNatsCluster, leaf_factory: LeafFactory, database_url: str
) -> None:
    frames = store_frames(CAMERAS)
    config = store_config(CAMERAS)
    expected = reference(frames, config)
    leaf = leaf_factory(STORE)
    await join_store(hub, leaf)
    async with client(hub.urls) as nc, AsyncExitStack() as stack:
        # The replicas first, so that both wait on the consumers while the events come.
        ingest = await stack.enter_async_context(
            ingest_replicas(
                hub.urls, database_url, ("DETECTIONS", "ANALYTICS"), replicas=2, durable="replicas"
            )
        )
        analytics = [
            await stack.enter_async_context(
                running_service(
                    ",".join([*hub.urls[i:], *hub.urls[:i]]), seed=config, partition=i, partitions=2
                )
            )
            for i in range(2)
        ]
        async with NatsConnection(leaf.url) as conn, EventPublisher(conn) as publisher:
            for start in range(0, len(frames), 40):  # ~4 s of a store's traffic
                for event in frames[start : start + 40]:
                    publisher.publish(event)
                await asyncio.sleep(0.1)
            assert await publisher.flush(60)
        await eventually(
            lambda: _equals(hub_count(nc, "DETECTIONS", STORE), len(frames)),
            60,
            message="the store's detections at the hub",
        )
        # The store's last message (other stores' come after it in the shared stream).
        js = nc.jetstream(timeout=10)
        last = 0
        for subject in {subject_for(f) for f in frames}:
            last = max(last, (await js.get_last_msg("DETECTIONS", subject)).seq or 0)
        for service in analytics:
            await consumed(service, last, timeout_s=90)
        await eventually(
            lambda: _equals(hub_count(nc, "ANALYTICS", STORE), len(expected)),
            30,
            message="the analytics events at the hub",
        )
        made = await hub_events(nc, "ANALYTICS", STORE, len(expected) + 1)
        assert sorted(facts(made), key=str) == sorted(facts(expected), key=str)

        crossings = sum(1 for e in expected if e.kind is EventKind.LINE_CROSSED)

        async def ingested() -> bool:
            detections = await fetch_ids(database_url, "detections", STORE)
            rows = await fetch_ids(database_url, "line_crossings", STORE)
            return len(detections) >= len(frames) and len(rows) >= crossings

        await eventually(ingested, 60, message="detections and crossings in the database")
        shares = [stored(m, "DETECTIONS") for m in ingest]
    detections = await fetch_ids(database_url, "detections", STORE)
    assert Counter(detections) == Counter(str(f.event_id) for f in frames)
    rows = await fetch_ids(database_url, "line_crossings", STORE)
    assert Counter(rows) == Counter(
        str(e.event_id) for e in expected if e.kind is EventKind.LINE_CROSSED
    )
    # Both ingest replicas took part (the hub spread the durable's messages over them).
    assert all(share > 0 for share in shares), shares
    print(
        f"\n2 ingest + 2 analytics replicas: {len(frames)} detections stored once "
        f"(the replicas stored {[int(s) for s in shares]} of all stores'), {len(made)} "
        f"analytics events as one "
        f"process makes them, {crossings} crossings counted once"
    )


async def _equals(value: object, expected: int) -> bool:
    return bool(await value == expected)  # type: ignore[misc]
