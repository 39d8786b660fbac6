"""Shared helpers for the events tests: event factories and a JetStream reader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import nats
from nats.aio.msg import Msg

from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import MSG_ID_HEADER, EventPublisher
from trinetra.events.schema import (
    BoundingBox,
    CameraStatusEvent,
    DetectedPerson,
    DetectionsEvent,
    Event,
    decode,
)
from trinetra.events.streams import DEFAULT_STREAMS, StreamSpec

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
STORE = "blr-01"
CAMERA = "cam.entrance"  # a dot, so subject escaping is exercised end to end


def frame(seq: int, camera: str = CAMERA, persons: int = 0) -> DetectionsEvent:
    box = BoundingBox(x1=0.1, y1=0.1, x2=0.2, y2=0.4)
    return DetectionsEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=T0 + timedelta(seconds=seq / 15),
        frame_seq=seq,
        frame_width=1280,
        frame_height=720,
        persons=tuple(DetectedPerson(box=box, score=0.5, track_id=i) for i in range(persons)),
    )


def status(state: str, attempt: int = 0) -> CameraStatusEvent:
    return CameraStatusEvent.model_validate(
        {
            "camera_id": CAMERA,
            "store_id": STORE,
            "occurred_at": T0 + timedelta(seconds=attempt),
            "state": state,
            "reconnect_attempt": attempt,
        }
    )


@asynccontextmanager
async def running_publisher(
    url: str,
    *,
    streams: tuple[StreamSpec, ...] = DEFAULT_STREAMS,
    **options: object,
) -> AsyncIterator[tuple[NatsConnection, EventPublisher]]:
    """A started connection + publisher with test-friendly (fast) retry timings."""
    connection = NatsConnection(url, reconnect_time_wait_s=0.05, connect_timeout_s=1.0)
    settings: dict[str, object] = {"ack_timeout_s": 1.0, "retry_backoff_s": (0.02, 0.2)}
    settings.update(options)
    publisher = EventPublisher(connection, streams=streams, **settings)  # type: ignore[arg-type]
    await publisher.start()
    try:
        yield connection, publisher
    finally:
        await publisher.close(timeout_s=1.0)
        await connection.close()


async def read_stream(url: str, stream: str, durable: str = "test-reader") -> list[Msg]:
    """Every message currently in `stream`, in stream order, via a durable pull consumer."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(stream)).state.messages
        sub = await js.pull_subscribe("", durable=durable, stream=stream)
        messages: list[Msg] = []
        while len(messages) < total:
            # Batches stay under the consumer's default max_ack_pending (1000), or a
            # fetch waits for messages the server will not send before the acks.
            batch = await sub.fetch(min(total - len(messages), 500), timeout=5)
            for msg in batch:
                # Plain ack: nothing here asserts on ack state, and ack_sync costs a round
                # trip per message.
                await msg.ack()
            messages.extend(batch)
        return messages
    finally:
        await nc.close()


def events_of(messages: list[Msg]) -> list[Event]:
    return [decode(m.data) for m in messages]


def msg_ids(messages: list[Msg]) -> list[str]:
    return [(m.headers or {}).get(MSG_ID_HEADER, "") for m in messages]
