"""Live events for GraphQL subscriptions: NATS core subscriptions fanned out to clients.

One core subscription per topic (tracks, alerts, camera status, analytics) on the stream subjects;
each message is decoded once and offered to every matching subscriber's bounded queue
with `put_nowait`. Delivery to a client never waits for another client: a subscriber
whose queue is full is marked overflowed (its queue is replaced by a single marker) and
its connection is closed by the subscription with a clear reason, instead of either
buffering without bound or slowing everybody down.

Live feeds are best-effort by nature (a client that reconnects queries what it missed);
the durable path is ingest -> database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from enum import StrEnum
from typing import Final

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import (
    ALERTS_SUBJECTS,
    ANALYTICS_SUBJECTS,
    STATUS_SUBJECTS,
    TRACKS_SUBJECTS,
    Event,
    SchemaError,
    decode,
)

log = logging.getLogger(__name__)


class Topic(StrEnum):
    TRACKS = "tracks"
    ALERTS = "alerts"
    STATUS = "status"
    ANALYTICS = "analytics"


SUBJECTS: Final = {
    Topic.TRACKS: TRACKS_SUBJECTS,
    Topic.ALERTS: ALERTS_SUBJECTS,
    Topic.STATUS: STATUS_SUBJECTS,
    Topic.ANALYTICS: ANALYTICS_SUBJECTS,
}


class SlowConsumerError(Exception):
    """The subscriber fell `queue_size` events behind and was cut off."""


class _Overflow:
    """Marker put in an overflowed subscriber's queue."""


_OVERFLOW: Final = _Overflow()


class Subscriber:
    def __init__(
        self,
        topic: Topic,
        matches: Callable[[Event], bool],
        queue_size: int,
        on_overflow: Callable[[str], None] | None = None,
    ) -> None:
        self.topic = topic
        self.matches = matches
        self.queue_size = queue_size
        self.on_overflow = on_overflow
        self._queue: asyncio.Queue[Event | _Overflow] = asyncio.Queue(queue_size)
        self.overflowed = False

    def offer(self, event: Event) -> bool:
        """Queue an event without waiting; False (and overflowed) when the queue is full."""
        if self.overflowed:
            return False
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self._queue = asyncio.Queue(1)
            self._queue.put_nowait(_OVERFLOW)
            if self.on_overflow is not None:
                # Act now: the subscriber's own task may be blocked sending to its client.
                self.on_overflow(self.reason)
            return False
        return True

    @property
    def reason(self) -> str:
        return (
            f"slow consumer: more than {self.queue_size} {self.topic.value} events "
            "waiting; reconnect and query what was missed"
        )

    async def events(self) -> AsyncIterator[Event]:
        """The subscriber's events; raises SlowConsumerError once it overflowed."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _Overflow):
                raise SlowConsumerError(self.reason)
            yield item


class LiveHub:
    def __init__(
        self, connection: NatsConnection, metrics: GatewayMetrics, queue_size: int = 256
    ) -> None:
        self._conn = connection
        self._metrics = metrics
        self._queue_size = queue_size
        self._subscribers: dict[Topic, set[Subscriber]] = {topic: set() for topic in Topic}
        self._subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe once NATS is connected (in the background: NATS may be down now).
        nats-py re-subscribes by itself after every reconnect."""
        if self._task is None:
            self._task = asyncio.create_task(self._subscribe_when_connected(), name="live-hub")

    async def _subscribe_when_connected(self) -> None:
        await self._conn.wait_connected()
        client = self._conn.client
        assert client is not None
        for topic, subject in SUBJECTS.items():
            self._subscriptions.append(
                await client.subscribe(
                    subject,
                    cb=self._callback(topic),
                    # Fan-out keeps up or drops clients; never let NATS drop for us.
                    pending_msgs_limit=1_000_000,
                    pending_bytes_limit=512 * 1024 * 1024,
                )
            )
        log.info("live feeds subscribed", extra={"subjects": list(SUBJECTS.values())})

    @property
    def ready(self) -> bool:
        return len(self._subscriptions) == len(SUBJECTS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions = []

    def _callback(self, topic: Topic) -> Callable[[Msg], Awaitable[None]]:
        async def on_message(msg: Msg) -> None:
            self.dispatch(topic, msg.data)

        return on_message

    def dispatch(self, topic: Topic, payload: bytes) -> None:
        """Decode one message and offer it to the topic's matching subscribers."""
        subscribers = self._subscribers[topic]
        if not subscribers:
            return
        try:
            event = decode(payload)
        except SchemaError as exc:
            self._metrics.live_bad_messages.labels(topic.value).inc()
            log.debug("live message refused", extra={"topic": topic.value, "error": str(exc)})
            return
        delivered = 0
        for subscriber in list(subscribers):
            if not subscriber.matches(event):
                continue
            if subscriber.offer(event):
                delivered += 1
            elif subscriber.overflowed:
                subscribers.discard(subscriber)
                self._metrics.live_dropped_clients.labels(topic.value).inc()
        if delivered:
            self._metrics.live_delivered.labels(topic.value).inc(delivered)

    @contextlib.contextmanager
    def subscribe(
        self,
        topic: Topic,
        matches: Callable[[Event], bool],
        on_overflow: Callable[[str], None] | None = None,
    ) -> Iterator[Subscriber]:
        """A bounded subscription; `on_overflow(reason)` is called the moment it
        overflows (then `events()` raises SlowConsumerError)."""
        subscriber = Subscriber(topic, matches, self._queue_size, on_overflow)
        self._subscribers[topic].add(subscriber)
        gauge = self._metrics.live_subscribers.labels(topic.value)
        gauge.inc()
        try:
            yield subscriber
        finally:
            self._subscribers[topic].discard(subscriber)
            gauge.dec()
