"""Reading the hub's copies of a store's events, and joining a store to the hub."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ServiceUnavailableError

from devservices.nats_cluster import LocalNatsCluster, LocalNatsLeaf
from tests.support.polling import eventually
from trinetra.events.hub import STORE_STREAMS, add_store
from trinetra.events.schema import DetectionsEvent, Event, decode
from trinetra.events.streams import ensure_streams


@asynccontextmanager
async def client(urls: str | list[str]) -> AsyncIterator[NATS]:
    nc = await nats.connect(urls, connect_timeout=2, reconnect_time_wait=0.2)
    try:
        yield nc
    finally:
        await nc.close()


async def join_store(hub: LocalNatsCluster, leaf: LocalNatsLeaf) -> None:
    """A started leaf linked to the hub, its streams created, the hub copying them.
    (The streams first: a source whose stream is missing is retried with a backoff of
    10 s per failure, which would only slow the test down.)"""
    await eventually(leaf.hub_connected, 10, message=f"{leaf.store_id}'s leaf link")
    async with client(leaf.url) as nc:
        await ensure_streams(nc.jetstream(timeout=5), STORE_STREAMS)
    async with client(hub.urls) as nc:
        await add_store(nc.jetstream(timeout=10), leaf.store_id)


async def hub_count(nc: NATS, stream: str, store_id: str) -> int:
    """How many of a store's messages the hub's `stream` holds (per-subject counts from
    STREAM.INFO: other stores share the stream); -1 while the stream has no leader (a
    node just died) or no answer comes, so `eventually` keeps polling."""
    request = {"subjects_filter": f"trinetra.{store_id}.>"}
    try:
        reply = await nc.request(
            f"$JS.API.STREAM.INFO.{stream}", json.dumps(request).encode(), timeout=2
        )
    except NatsTimeoutError:
        return -1
    info = json.loads(reply.data)
    if "error" in info and info["error"].get("code") == 503:
        return -1
    if "error" in info:
        raise AssertionError(f"STREAM.INFO {stream}: {info['error']}")
    subjects: dict[str, int] = info["state"].get("subjects") or {}
    return sum(subjects.values())


async def hub_events(nc: NATS, stream: str, store_id: str, expected: int) -> list[Event]:
    """A store's events in the hub's stream, in stream order (an ephemeral consumer that
    reads `expected` messages, or all there are if fewer)."""
    js = nc.jetstream(timeout=10)
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30
    )
    for attempt in range(20):
        events: list[Event] = []
        try:
            sub = await js.pull_subscribe(f"trinetra.{store_id}.>", stream=stream, config=config)
            try:
                while len(events) < expected:
                    try:
                        batch = await sub.fetch(min(1000, expected - len(events)), timeout=3)
                    except NatsTimeoutError:
                        break
                    events.extend(decode(msg.data) for msg in batch)
            finally:
                await sub.unsubscribe()
        except ServiceUnavailableError:
            # Seen right after a stream's config or leader changed (R3 at the hub), when
            # subscribing or fetching: read again from the start with a new consumer.
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
            continue
        return events
    raise AssertionError("unreachable")


def frames_per_camera(events: list[Event]) -> dict[str, list[int]]:
    """Each camera's frame_seq values in the order they are stored."""
    seqs: dict[str, list[int]] = defaultdict(list)
    for event in events:
        assert isinstance(event, DetectionsEvent), event
        seqs[event.camera_id].append(event.frame_seq)
    return dict(seqs)
