"""EventPublisher against a real nats-server: delivery, dedup, outages, overflow."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import pytest

from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer, NatsServerFactory
from tests.support.polling import eventually
from tests.trinetra.events.helpers import (
    frame,
    msg_ids,
    read_stream,
    running_publisher,
    status,
)
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import DetectionsEvent, Event, decode, encode
from trinetra.events.streams import DETECTIONS_STREAM

# A hung publisher must fail fast, not after the suite-wide timeout.
pytestmark = pytest.mark.timeout(60)


def seqs(events: list[Event]) -> list[int]:
    return [e.frame_seq for e in events if isinstance(e, DetectionsEvent)]


def published(publisher: EventPublisher, kind: str = "detections") -> float:
    return read_metric(
        publisher.metrics.registry, "trinetra_events_published_total", {"kind": kind}
    )


def in_flight(publisher: EventPublisher) -> float:
    return read_metric(publisher.metrics.registry, "trinetra_event_publish_in_flight")


def dropped(publisher: EventPublisher, reason: str, kind: str = "detections") -> float:
    return read_metric(
        publisher.metrics.registry,
        "trinetra_events_dropped_total",
        {"kind": kind, "reason": reason},
    )


async def test_published_events_are_read_back_by_a_durable_consumer(nats_url: str) -> None:
    frames = [frame(i, persons=i % 3) for i in range(30)]
    statuses = [status("connecting"), status("live")]
    async with running_publisher(nats_url) as (_, publisher):
        events: list[Event] = [statuses[0], *frames, statuses[1]]
        for event in events:
            publisher.publish(event)
        assert await publisher.flush(timeout_s=10)
        assert publisher.pending == 0

    detections = await read_stream(nats_url, "DETECTIONS")
    assert [decode(m.data) for m in detections] == frames
    assert msg_ids(detections) == [str(e.event_id) for e in frames]
    assert {m.subject for m in detections} == {"trinetra.blr-01.cam=2Eentrance.detections"}
    camera_status = await read_stream(nats_url, "CAMERA_STATUS")
    assert [decode(m.data) for m in camera_status] == statuses
    assert published(publisher) == 30
    assert published(publisher, "camera.status") == 2


async def test_duplicate_event_ids_are_stored_once(nats_url: str) -> None:
    async with running_publisher(nats_url) as (_, publisher):
        publisher.publish(frame(1))
        publisher.publish(frame(2))
        assert await publisher.flush(timeout_s=10)
        # A producer retrying after a crash rebuilds the same events: same ids.
        publisher.publish(frame(1))
        publisher.publish(frame(1))
        publisher.publish(frame(2))
        publisher.publish(frame(3))
        assert await publisher.flush(timeout_s=10)

    assert seqs([decode(m.data) for m in await read_stream(nats_url, "DETECTIONS")]) == [1, 2, 3]
    assert (
        read_metric(
            publisher.metrics.registry, "trinetra_events_duplicate_total", {"kind": "detections"}
        )
        == 3
    )
    assert published(publisher) == 6


async def test_nats_down_at_start_buffers_then_delivers_in_order(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(start=False)
    async with running_publisher(server.url) as (connection, publisher):
        for i in range(50):
            publisher.publish(frame(i))  # must not raise or block with no server
        await asyncio.sleep(0.2)
        assert not connection.connected
        assert publisher.pending == 50
        assert (
            read_metric(
                publisher.metrics.registry, "trinetra_events_buffered_total", {"kind": "detections"}
            )
            == 50
        )
        assert read_metric(publisher.metrics.registry, "trinetra_event_buffer_events") == 50
        assert read_metric(publisher.metrics.registry, "trinetra_nats_connected") == 0

        server.start()
        assert await publisher.flush(timeout_s=10)
        assert read_metric(publisher.metrics.registry, "trinetra_nats_connected") == 1
        assert read_metric(publisher.metrics.registry, "trinetra_event_buffer_events") == 0

    assert seqs([decode(m.data) for m in await read_stream(server.url, "DETECTIONS")]) == list(
        range(50)
    )


async def test_restart_mid_stream_holds_events_and_delivers_them_after(
    nats_server: NatsServer,
) -> None:
    async with running_publisher(nats_server.url) as (connection, publisher):
        for i in range(20):
            publisher.publish(frame(i))
        assert await publisher.flush(timeout_s=10)

        nats_server.stop()
        await eventually(lambda: not connection.connected, 5, message="the disconnect")
        for i in range(20, 40):
            publisher.publish(frame(i))
        assert not await publisher.flush(timeout_s=0.3)
        assert publisher.pending == 20

        nats_server.start()  # same port, same store directory
        assert await publisher.flush(timeout_s=10)
        assert connection.generation == 2
        for i in range(40, 45):
            publisher.publish(frame(i))
        assert await publisher.flush(timeout_s=10)

    # The first 20 survived the restart in the file store; the rest arrived in order.
    assert seqs([decode(m.data) for m in await read_stream(nats_server.url, "DETECTIONS")]) == (
        list(range(45))
    )
    assert dropped(publisher, "buffer_full") == 0


async def test_server_killed_while_publishing_loses_and_duplicates_nothing(
    nats_server: NatsServer,
) -> None:
    async with running_publisher(nats_server.url, max_in_flight=64) as (connection, publisher):
        for i in range(3000):
            publisher.publish(frame(i))

        def mid_window() -> bool:
            return published(publisher) >= 200 and in_flight(publisher) > 0

        # Poll on every loop turn so the kill lands while a window awaits its acks.
        await eventually(mid_window, 5, interval_s=0, message="a window awaiting its acks")
        nats_server.kill()
        await eventually(lambda: not connection.connected, 5, message="the disconnect")
        for i in range(3000, 3500):
            publisher.publish(frame(i))
        nats_server.start()
        assert await publisher.flush(timeout_s=20)

    lost_acks = sum(
        read_metric(
            publisher.metrics.registry, "trinetra_event_publish_errors_total", {"reason": reason}
        )
        for reason in ("timeout", "connection")
    )
    assert lost_acks > 0, "the kill did not interrupt a publish window"
    stored = seqs([decode(m.data) for m in await read_stream(nats_server.url, "DETECTIONS")])
    # Every event exactly once, although the unacked window was sent again, and in order:
    # the server stored a prefix of that window before dying, the resent copies of the
    # prefix were deduplicated, and the rest went first after the reconnect.
    assert stored == list(range(3500))


async def test_full_buffer_drops_oldest_and_counts(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(start=False)
    async with running_publisher(server.url, max_buffer_events=10) as (_, publisher):
        for i in range(25):
            publisher.publish(frame(i))
        assert publisher.pending == 10
        assert dropped(publisher, "buffer_full") == 15
        server.start()
        assert await publisher.flush(timeout_s=10)

    # The newest 10 survived.
    assert seqs([decode(m.data) for m in await read_stream(server.url, "DETECTIONS")]) == list(
        range(15, 25)
    )


async def test_byte_bound_drops_oldest_but_keeps_newest(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(start=False)
    size = len(encode(frame(0, persons=20)))
    # Room for 3.5 events: sizes vary by a few bytes (timestamps), so not exactly 3.
    limit = 3 * size + size // 2
    async with running_publisher(server.url, max_buffer_bytes=limit) as (_, publisher):
        for i in range(10):
            publisher.publish(frame(i, persons=20))
        assert publisher.pending == 3
        assert 0 < read_metric(publisher.metrics.registry, "trinetra_event_buffer_bytes") <= limit
        # One event larger than the whole bound is still kept (it is the newest).
        publisher.publish(frame(10, persons=100))
        assert publisher.pending == 1


async def test_rejected_event_is_dropped_without_blocking_the_rest(
    nats_server: NatsServer,
) -> None:
    small = DETECTIONS_STREAM.replace(max_msg_size=1024)
    async with running_publisher(nats_server.url, streams=(small,)) as (_, publisher):
        publisher.publish(frame(0))
        publisher.publish(frame(1, persons=40))  # several KB: over the stream's limit
        publisher.publish(frame(2))
        assert await publisher.flush(timeout_s=10)
        assert dropped(publisher, "rejected") == 1
    assert seqs([decode(m.data) for m in await read_stream(nats_server.url, "DETECTIONS")]) == [
        0,
        2,
    ]


async def test_missing_stream_is_recreated(nats_server: NatsServer) -> None:
    async with running_publisher(nats_server.url) as (_, publisher):
        publisher.publish(frame(0))
        assert await publisher.flush(timeout_s=10)
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().delete_stream("DETECTIONS")
        finally:
            await nc.close()
        publisher.publish(frame(1))
        assert await publisher.flush(timeout_s=10)
        assert read_metric(
            publisher.metrics.registry,
            "trinetra_event_publish_errors_total",
            {"reason": "no_stream"},
        )
    assert seqs([decode(m.data) for m in await read_stream(nats_server.url, "DETECTIONS")]) == [1]


async def test_close_counts_unsent_and_later_publishes(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(start=False)
    async with running_publisher(server.url) as (_, publisher):
        publisher.publish(frame(0))
        publisher.publish(status("error", 1))
    # Closed with NATS never reachable: nothing raised, both counted as shutdown drops.
    assert dropped(publisher, "shutdown") == 1
    assert dropped(publisher, "shutdown", kind="camera.status") == 1
    publisher.publish(frame(1))
    assert dropped(publisher, "closed") == 1
    with pytest.raises(RuntimeError):
        await publisher.start()


async def test_close_during_unacked_window_counts_every_event(nats_server: NatsServer) -> None:
    # A core subscriber that never answers stands in for a stream whose acks are lost.
    nc = await nats.connect(nats_server.url)
    try:
        await nc.subscribe("trinetra.>")
        await nc.flush()
        async with running_publisher(nats_server.url, streams=(), ack_timeout_s=30) as (
            _,
            publisher,
        ):
            for i in range(5):
                publisher.publish(frame(i))
            await eventually(lambda: in_flight(publisher) == 5, 5, message="5 events in flight")
            assert not await publisher.flush(timeout_s=0.1)
        assert dropped(publisher, "shutdown") == 5
        assert published(publisher) == 0
    finally:
        await nc.close()


async def test_publish_never_raises_when_connection_is_closed_under_it(
    nats_server: NatsServer,
) -> None:
    async with running_publisher(nats_server.url) as (connection, publisher):
        publisher.publish(frame(0))
        assert await publisher.flush(timeout_s=10)
        await connection.close()
        for i in range(1, 5):
            publisher.publish(frame(i))
        assert not await publisher.flush(timeout_s=0.2)
        assert publisher.pending == 4
    with contextlib.suppress(Exception):
        await connection.close()


def test_publisher_rejects_nonsense_limits() -> None:
    from trinetra.events.connection import NatsConnection

    with pytest.raises(ValueError):
        EventPublisher(NatsConnection("nats://127.0.0.1:1"), max_in_flight=0)
