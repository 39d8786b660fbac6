"""A camera's track events as JetStream holds them: what consumers saw, read back.

Used after a crash, when the only record of the tracks a dead run opened since its last
checkpoint is what it managed to publish. Read through a short-lived ephemeral consumer
(no acks, in memory, deleted afterwards), filtered to the camera's tracks subject and
starting at a time, so the read costs what was published since then, not the stream.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Final

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from trinetra.events.connection import NatsConnection
from trinetra.events.schema import (
    SchemaError,
    TrackEndedEvent,
    TrackEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    decode,
    tracks_subject,
)
from trinetra.events.streams import TRACKS_STREAM

log = logging.getLogger(__name__)

_FETCH_BATCH: Final = 512
# Past this many events the read stops (logged): a start-up must stay bounded.
DEFAULT_LIMIT: Final = 200_000


class PublishedEventsUnavailableError(RuntimeError):
    """JetStream could not be read (NATS down, or it did not answer in time)."""


async def published_track_events(
    connection: NatsConnection,
    store_id: str,
    camera_id: str,
    since: datetime,
    *,
    stream: str = TRACKS_STREAM.name,
    timeout_s: float = 5.0,
    limit: int = DEFAULT_LIMIT,
) -> list[TrackEvent]:
    """The track events of `camera_id` stored since `since` (the server's receive time), in
    stream order; [] when the stream does not exist. Raises
    `PublishedEventsUnavailableError` when JetStream cannot be read now."""
    client = connection.client
    if client is None or not connection.connected:
        raise PublishedEventsUnavailableError("not connected to NATS")
    js = client.jetstream(timeout=timeout_s)
    subject = tracks_subject(store_id, camera_id)
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        mem_storage=True,
        # Removed by the server should this process die before deleting it.
        inactive_threshold=60.0,
    )
    try:
        sub = await js.pull_subscribe(subject, stream=stream, config=config)
    except NotFoundError:
        return []  # no stream: nothing was ever published
    except Exception as exc:
        raise PublishedEventsUnavailableError(f"cannot read {stream}: {exc!r}") from exc
    events: list[TrackEvent] = []
    name: str | None = None
    try:
        info = await sub.consumer_info()
        name = info.name
        remaining = info.num_pending or 0
        while remaining > 0:
            if len(events) >= limit:
                log.warning(
                    "stopped reading published track events at the limit",
                    extra={"camera": camera_id, "limit": limit, "left": remaining},
                )
                break
            for msg in await sub.fetch(min(remaining, _FETCH_BATCH), timeout=timeout_s):
                remaining = msg.metadata.num_pending
                try:
                    event = decode(msg.data)
                except SchemaError:
                    continue  # not ours to judge here; the gateway sets it aside
                if isinstance(event, TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent):
                    events.append(event)
    except Exception as exc:
        raise PublishedEventsUnavailableError(f"reading {stream} failed: {exc!r}") from exc
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if name is not None:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)
    return events
