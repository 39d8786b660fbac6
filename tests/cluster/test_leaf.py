"""A store on a leaf node: its events are stored in its own JetStream domain first and
reach the hub's replicated (R3) streams; what is the store's alone (track-id blocks in
KV) stays in its domain; nothing published at the hub loops into the store's streams,
a store alert that reaches the hub both live and sourced is stored once, and an
application's own ensure_stream at the hub leaves the hub's streams as they are."""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError

from devservices.nats_cluster import LocalNatsCluster
from orchestrator.tracking.id_blocks import DEFAULT_BUCKET, TrackIdBlocks
from tests.cluster.conftest import LeafFactory
from tests.cluster.helpers import client, frames_per_camera, hub_count, hub_events, join_store
from tests.cluster.store_publisher import frame
from tests.gateway.helpers import false_merge
from tests.support.polling import eventually
from trinetra.events.connection import NatsConnection
from trinetra.events.hub import HUB_REPLICAS, STORE_STREAMS
from trinetra.events.publisher import MSG_ID_HEADER, EventPublisher
from trinetra.events.schema import FalseMergeAlertEvent, encode, subject_for
from trinetra.events.streams import (
    ALERTS_STREAM,
    ANALYTICS_STREAM,
    DETECTIONS_STREAM,
    ensure_stream,
)

# The cut store runs under this test (conftest.py).
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("wan_cut")]

STORE = "store-a"
CAMERAS = ("cam-0", "cam-1", "cam-2")
FRAMES = 200


def _alert(camera: str) -> FalseMergeAlertEvent:
    """An alert of this store (its id follows from its fields, so a new one per camera)."""
    fields = false_merge(camera).model_dump(exclude={"event_id", "published_at"})
    return FalseMergeAlertEvent.model_validate({**fields, "store_id": STORE})


async def test_store_events_reach_the_hub_streams_from_the_leaf(
    hub: LocalNatsCluster, leaf_factory: LeafFactory
) -> None:
    leaf = leaf_factory(STORE)
    await join_store(hub, leaf)
    async with NatsConnection(leaf.url) as conn:
        async with EventPublisher(conn) as publisher:
            for seq in range(FRAMES):
                for camera in CAMERAS:
                    publisher.publish(frame(STORE, camera, seq))
            assert await publisher.flush(30)
        # The store node's id blocks: reserved in the KV of the store's domain.
        block = await TrackIdBlocks(conn, STORE).reserve("cam-0")
        assert block is not None and len(block) > 0

    async with client(hub.urls) as nc:
        total = FRAMES * len(CAMERAS)
        await eventually(
            lambda: _equals(hub_count(nc, "DETECTIONS", STORE), total),
            30,
            message="the store's detections at the hub",
        )
        events = await hub_events(nc, "DETECTIONS", STORE, total + 1)
        assert frames_per_camera(events) == {c: list(range(FRAMES)) for c in CAMERAS}

        js = nc.jetstream(timeout=10)
        for spec in (*STORE_STREAMS, ANALYTICS_STREAM):
            info = await js.stream_info(spec.name)
            assert info.config.num_replicas == HUB_REPLICAS, spec.name
            assert info.cluster is not None and len(info.cluster.replicas or ()) == 2
        kv_stream = f"KV_{DEFAULT_BUCKET}"
        with pytest.raises(NotFoundError):
            await js.stream_info(kv_stream)  # not at the hub ...
        store_js = nc.jetstream(domain=STORE, timeout=10)
        assert (await store_js.stream_info(kv_stream)).state.messages == 1  # ... but there

        # An alert at the store: stored once at the hub (live over the leaf link and
        # sourced); one at the hub (an analytics rule): never in the store's stream.
        at_store, at_hub = _alert("cam-0"), _alert("cam-1")
        async with client(leaf.url) as store_nc:
            await store_nc.jetstream().publish(
                subject_for(at_store),
                encode(at_store),
                headers={MSG_ID_HEADER: str(at_store.event_id)},
            )
        await js.publish(
            subject_for(at_hub), encode(at_hub), headers={MSG_ID_HEADER: str(at_hub.event_id)}
        )
        await eventually(
            lambda: _equals(hub_count(nc, ALERTS_STREAM.name, STORE), 2), 30, message="2 alerts"
        )
        alerts = await hub_events(nc, ALERTS_STREAM.name, STORE, 3)
        assert sorted(str(a.event_id) for a in alerts) == sorted(
            str(a.event_id) for a in (at_store, at_hub)
        )
        store_alerts = await store_js.stream_info(ALERTS_STREAM.name)
        assert store_alerts.state.messages == 1

        # An application at the hub ensures its plain specs (analytics does DETECTIONS on
        # every start): the hub's sources and replicas stay.
        for spec in (DETECTIONS_STREAM, ANALYTICS_STREAM):
            await ensure_stream(js, spec)
        detections = await js.stream_info(DETECTIONS_STREAM.name)
        assert detections.config.num_replicas == HUB_REPLICAS
        assert any(
            s.external and s.external.api == f"$JS.{STORE}.API"
            for s in detections.config.sources or ()
        )
        assert (await js.stream_info(ANALYTICS_STREAM.name)).config.num_replicas == HUB_REPLICAS


async def _equals(value: object, expected: int) -> bool:
    return bool(await value == expected)  # type: ignore[misc]
