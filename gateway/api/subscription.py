"""GraphQL subscriptions (graphql-transport-ws), fed from NATS by the live hub.

Each subscription owns a bounded queue in the hub. A client that cannot keep up is cut
off: its WebSocket is closed with code 4008 and the reason, so it knows to reconnect and
query what it missed, and the other clients never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import strawberry

from gateway.api import decorators
from gateway.api.analytics_subscription import AnalyticsSubscription
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, api_error
from gateway.api.push_query import PushSubscription
from gateway.api.types import Alert, CameraStatusUpdate, TrackEvent
from gateway.auth import Scope
from gateway.feeds.hub import SlowConsumerError, Topic
from gateway.ingest.rows import ALERTS, row_for
from trinetra.events.schema import (
    CameraStatusEvent,
    Event,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
)
from trinetra.vocabulary import TrackEventKind

log = logging.getLogger(__name__)

T = TypeVar("T")


def _camera_filter(store_id: str, camera_ids: list[str] | None) -> Callable[[Event], bool]:
    cameras = None if camera_ids is None else frozenset(camera_ids)

    def matches(event: Event) -> bool:
        return event.store_id == store_id and (cameras is None or event.camera_id in cameras)

    return matches


async def _stream(
    info: Info, topic: Topic, matches: Callable[[Event], bool], convert: Callable[[Event], T]
) -> AsyncGenerator[T, None]:
    hub = info.context.gateway.hub
    with hub.subscribe(topic, matches, info.context.slow_consumer) as subscriber:
        try:
            async for event in subscriber.events():
                yield convert(event)
        except SlowConsumerError:
            # The client is being dropped (on_overflow); wait for the connection's
            # shutdown to cancel this task.
            await asyncio.Event().wait()


def is_alert(event: Event) -> bool:
    """An event the gateway stores as an alert (any alert.* kind ingest maps to `alerts`)."""
    if not event.kind.startswith("alert."):
        return False
    try:
        table, _ = row_for(event)
    except TypeError:
        return False
    return table is ALERTS


@strawberry.type
class Subscription(AnalyticsSubscription, PushSubscription):
    @decorators.subscription(
        description="Live track events, optionally only some cameras, kinds, or updates "
        "at or above a detector score (ended events carry no score and always pass)."
    )
    async def track_events(
        self,
        info: Info,
        camera_ids: list[str] | None = None,
        kinds: list[TrackEventKind] | None = None,
        min_score: float | None = None,
        store_id: str | None = None,
    ) -> AsyncGenerator[TrackEvent, None]:
        info.context.require(Scope.VIEWER)
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise api_error("minScore must be within [0, 1]", BAD_USER_INPUT)
        on_camera = _camera_filter(info.context.store(store_id), camera_ids)
        wanted = None if kinds is None else frozenset(k.value for k in kinds)

        def matches(event: Event) -> bool:
            if not isinstance(event, TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent):
                return False
            if not on_camera(event) or (wanted is not None and event.kind not in wanted):
                return False
            return (
                min_score is None or isinstance(event, TrackEndedEvent) or event.score >= min_score
            )

        def convert(event: Event) -> TrackEvent:
            assert isinstance(event, TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent)
            return TrackEvent.of(event)

        async for item in _stream(info, Topic.TRACKS, matches, convert):
            yield item

    @decorators.subscription(description="Live alerts, optionally of some cameras.")
    async def alerts(
        self, info: Info, camera_ids: list[str] | None = None, store_id: str | None = None
    ) -> AsyncGenerator[Alert, None]:
        info.context.require(Scope.VIEWER)
        on_camera = _camera_filter(info.context.store(store_id), camera_ids)

        def matches(event: Event) -> bool:
            return on_camera(event) and is_alert(event)

        async for item in _stream(info, Topic.ALERTS, matches, Alert.of_event):
            yield item

    @decorators.subscription(description="Live camera status changes.")
    async def camera_status(
        self, info: Info, camera_ids: list[str] | None = None, store_id: str | None = None
    ) -> AsyncGenerator[CameraStatusUpdate, None]:
        info.context.require(Scope.VIEWER)
        on_camera = _camera_filter(info.context.store(store_id), camera_ids)

        def matches(event: Event) -> bool:
            return isinstance(event, CameraStatusEvent) and on_camera(event)

        def convert(event: Event) -> CameraStatusUpdate:
            assert isinstance(event, CameraStatusEvent)
            return CameraStatusUpdate.of(event)

        async for item in _stream(info, Topic.STATUS, matches, convert):
            yield item
