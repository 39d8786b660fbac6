"""Live analytics over graphql-transport-ws (viewer scope), fed from the ANALYTICS stream's
subjects by the live hub like every subscription (gateway/api/subscription.py): zone
occupancy changes, queue snapshots, and line crossings with running totals.

footfallCounters counts from `since` (default: today's UTC midnight; a dashboard passes
its own local midnight): the totals start from the crossings already stored, then every
live crossing adds one. The live feed is joined before the stored totals are read, and a
crossing ingested in the last minute (that may be both stored and still arriving live) is
counted once, by event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

import strawberry

from gateway.api import decorators
from gateway.api.analytics_types import FootfallCounter, QueueState, ZoneOccupancyUpdate
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, api_error
from gateway.auth import Scope
from gateway.feeds.hub import SlowConsumerError, Topic
from trinetra.events.schema import Event, LineCrossedEvent, QueueSnapshotEvent, ZoneOccupancyEvent

ZoneEvent = TypeVar("ZoneEvent", ZoneOccupancyEvent, QueueSnapshotEvent)


async def _zone_events(
    info: Info,
    kind: type[ZoneEvent],
    store_id: str | None,
    camera_id: str | None,
    zone_id: str | None,
) -> AsyncGenerator[ZoneEvent, None]:
    """The live `kind` events of a store, optionally of one camera and one zone."""
    info.context.require(Scope.VIEWER)
    store = info.context.store(store_id)

    def matches(event: Event) -> bool:
        return (
            isinstance(event, kind)
            and event.store_id == store
            and (camera_id is None or event.camera_id == camera_id)
            and (zone_id is None or event.zone_id == zone_id)
        )

    hub = info.context.gateway.hub
    with hub.subscribe(Topic.ANALYTICS, matches, info.context.slow_consumer) as subscriber:
        try:
            async for event in subscriber.events():
                assert isinstance(event, kind)
                yield event
        except SlowConsumerError:
            # Being dropped (on_overflow): the connection's shutdown cancels us.
            await asyncio.Event().wait()


# Crossings ingested this recently may arrive live too: counted once, by event id.
_OVERLAP: Final = timedelta(minutes=1)


@strawberry.type
class AnalyticsSubscription:
    @decorators.subscription(description="Live zone occupancy changes, optionally of a camera.")
    async def zone_occupancy(
        self,
        info: Info,
        camera_id: str | None = None,
        zone_id: str | None = None,
        store_id: str | None = None,
    ) -> AsyncGenerator[ZoneOccupancyUpdate, None]:
        async for event in _zone_events(info, ZoneOccupancyEvent, store_id, camera_id, zone_id):
            yield ZoneOccupancyUpdate.of(event)

    @decorators.subscription(description="Live queue snapshots, optionally of one queue zone.")
    async def queue_state(
        self,
        info: Info,
        zone_id: str | None = None,
        camera_id: str | None = None,
        store_id: str | None = None,
    ) -> AsyncGenerator[QueueState, None]:
        async for event in _zone_events(info, QueueSnapshotEvent, store_id, camera_id, zone_id):
            yield QueueState.of(event)

    @decorators.subscription(
        description="Every live line crossing with its line's totals since `since` (default: "
        "today's UTC midnight; pass your local midnight)."
    )
    async def footfall_counters(
        self,
        info: Info,
        line_id: str | None = None,
        since: datetime | None = None,
        store_id: str | None = None,
    ) -> AsyncGenerator[FootfallCounter, None]:
        info.context.require(Scope.VIEWER)
        now = datetime.now(UTC)
        start = since or now.replace(hour=0, minute=0, second=0, microsecond=0)
        if start.tzinfo is None:
            raise api_error("since needs a timezone", BAD_USER_INPUT, field="since")
        longest = timedelta(days=info.context.settings.limits.max_range_days)
        if not timedelta(0) <= now - start <= longest:
            raise api_error(
                "since must be in the past, within the longest query range",
                BAD_USER_INPUT,
                field="since",
            )
        info.context.check_database()
        store = info.context.store(store_id)

        def matches(event: Event) -> bool:
            return (
                isinstance(event, LineCrossedEvent)
                and event.store_id == store
                and (line_id is None or event.line_id == line_id)
                and event.crossed_at >= start
            )

        hub = info.context.gateway.hub
        with hub.subscribe(Topic.ANALYTICS, matches, info.context.slow_consumer) as subscriber:
            async with info.context.gateway.db.connection() as conn:
                rows = await conn.fetch(
                    """
                    SELECT line_id, direction, count(*) AS crossings FROM line_crossings
                    WHERE store_id = $1 AND ($2::text IS NULL OR line_id = $2)
                      AND crossed_at >= $3
                    GROUP BY line_id, direction
                    """,
                    store,
                    line_id,
                    start,
                )
                recent = await conn.fetch(
                    """
                    SELECT event_id FROM line_crossings
                    WHERE store_id = $1 AND ($2::text IS NULL OR line_id = $2)
                      AND crossed_at >= $3 AND ingested_at >= $4
                    """,
                    store,
                    line_id,
                    start,
                    now - _OVERLAP,
                )
            totals: dict[tuple[str, str], int] = {
                (r["line_id"], r["direction"]): int(r["crossings"]) for r in rows
            }
            counted = {r["event_id"] for r in recent}
            try:
                async for event in subscriber.events():
                    assert isinstance(event, LineCrossedEvent)
                    if event.event_id not in counted:
                        key = (event.line_id, event.direction)
                        totals[key] = totals.get(key, 0) + 1
                    yield FootfallCounter.of(
                        event,
                        start,
                        totals.get((event.line_id, "in"), 0),
                        totals.get((event.line_id, "out"), 0),
                    )
            except SlowConsumerError:
                await asyncio.Event().wait()
