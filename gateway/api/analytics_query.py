"""GraphQL queries of the retail analytics (viewer scope), read from the aggregates.

Ranges are half-open [from, to), bounded like every query (LimitSettings.max_range_days),
and read the buckets that start inside them. A series is at most MAX_SERIES_POINTS points
(ask for a wider bucket beyond that). Every store-scoped field takes an optional storeId
(default: the gateway's store).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import strawberry

from gateway.api import decorators
from gateway.api.analytics_types import (
    AnalyticsConfig,
    AnalyticsConfigVersion,
    Bucket,
    CurrentZoneOccupancy,
    FootfallPoint,
    FootfallTotals,
    FunnelReport,
    FunnelStageReport,
    Heatmap,
    JourneyFlow,
    QueuePoint,
    Visit,
    VisitCount,
    ZoneDwell,
    ZoneOccupancyPoint,
    ZoneOccupancySeries,
    stage_name,
)
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, NOT_FOUND, api_error
from gateway.api.pagination import Page, check_range, fetch_page
from gateway.auth import Scope
from gateway.db.analytics import config as stored_config
from gateway.db.analytics import (
    dwell,
    footfall,
    funnels,
    heatmap,
    journey_reads,
    occupancy,
    queues,
)
from gateway.db.analytics.buckets import Width
from trinetra.config.analytics import StoreAnalyticsConfig

READ = (Scope.VIEWER,)
MAX_SERIES_POINTS: Final = 20_000
MAX_HISTORY: Final = 200
VISIT_KEY = ("started_at", "journey_id")

From = Annotated[datetime, strawberry.argument(name="from", description="Start (inclusive).")]
To = Annotated[datetime, strawberry.argument(description="End (exclusive).")]
StoreArg = Annotated[
    str | None, strawberry.argument(description="Store (default: the gateway's store).")
]
TimeZoneArg = Annotated[
    str | None,
    strawberry.argument(
        description="IANA time zone (e.g. Asia/Kolkata) whose hours and days the buckets "
        "follow; default UTC."
    ),
]


def _store(info: Info, store_id: str | None) -> str:
    """`storeId` or the gateway's store, once the token is seen to grant it."""
    return info.context.store(store_id)


async def _occupancy_points(
    info: Info,
    from_: datetime,
    to: datetime,
    camera_id: str | None,
    zone_id: str | None,
    bucket: Bucket,
    store_id: str | None,
) -> list[occupancy.OccupancyPoint]:
    """The zoneOccupancy points, checked against MAX_SERIES_POINTS first."""
    _range(info, from_, to, bucket.width)
    store = _store(info, store_id)
    async with info.context.gateway.db.connection() as conn:
        zones = await occupancy.zones(conn, store, camera_id, zone_id)
        if occupancy.point_count(len(zones), from_, to, bucket.width) > MAX_SERIES_POINTS:
            raise api_error(
                f"more than {MAX_SERIES_POINTS} points: filter by camera or zone, use a "
                "wider bucket or a shorter range",
                BAD_USER_INPUT,
                field="bucket",
            )
        return await occupancy.series(
            conn,
            store,
            from_,
            to,
            bucket.width,
            datetime.now(UTC),
            camera_id=camera_id,
            zone_id=zone_id,
        )


def _width(bucket: Bucket, offered: tuple[Bucket, ...]) -> Width:
    if bucket not in offered:
        names = ", ".join(b.name for b in offered)
        raise api_error(f"bucket must be one of {names}", BAD_USER_INPUT, field="bucket")
    return bucket.width


FOOTFALL_BUCKETS: Final = (Bucket.FIFTEEN_MINUTES, Bucket.HOUR, Bucket.DAY)
VISIT_BUCKETS: Final = (Bucket.HOUR, Bucket.DAY)


def _range(info: Info, start: datetime, end: datetime, width: Width | None = None) -> None:
    info.context.require(*READ)
    check_range(start, end, info.context.settings.limits)
    if width is not None and (end - start) / width.delta > MAX_SERIES_POINTS:
        raise api_error(
            f"more than {MAX_SERIES_POINTS} buckets: use a wider bucket or a shorter range",
            BAD_USER_INPUT,
            field="bucket",
        )
    info.context.check_database()


def _time_zone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise api_error(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Kolkata)",
            BAD_USER_INPUT,
            field="timeZone",
        ) from None
    return name


async def current_config(conn: asyncpg.Connection, store_id: str) -> StoreAnalyticsConfig | None:
    found = await stored_config.current_validated(conn, store_id)
    return None if found is None else found[1]


@strawberry.type
class AnalyticsQuery:
    @decorators.field(description="The store's current analytics configuration.")
    async def analytics_config(self, info: Info, store_id: StoreArg = None) -> AnalyticsConfig:
        info.context.require(*READ)
        info.context.check_database()
        store = _store(info, store_id)
        async with info.context.gateway.db.connection() as conn:
            found = await stored_config.current_validated(conn, store)
        return AnalyticsConfig.empty(store) if found is None else AnalyticsConfig.of(*found)

    @decorators.field(description="Versions of the analytics configuration, newest first.")
    async def analytics_config_history(
        self,
        info: Info,
        first: int = 20,
        before_version: int | None = None,
        store_id: StoreArg = None,
    ) -> list[AnalyticsConfigVersion]:
        info.context.require(*READ)
        if not 1 <= first <= MAX_HISTORY:
            raise api_error(f"first must be between 1 and {MAX_HISTORY}", BAD_USER_INPUT)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn:
            versions = await stored_config.history(
                conn, _store(info, store_id), first, before_version
            )
        return [AnalyticsConfigVersion.of(v) for v in versions]

    @decorators.field(
        description="Line crossings in and out per line per bucket (FIFTEEN_MINUTES, HOUR or DAY)."
    )
    async def footfall(
        self,
        info: Info,
        from_: From,
        to: To,
        bucket: Bucket = Bucket.HOUR,
        line_id: str | None = None,
        camera_id: str | None = None,
        time_zone: TimeZoneArg = None,
        store_id: StoreArg = None,
    ) -> list[FootfallPoint]:
        width = _width(bucket, FOOTFALL_BUCKETS)
        _range(info, from_, to, width)
        zone = _time_zone(time_zone)
        async with info.context.gateway.db.connection() as conn:
            points = await footfall.series(
                conn,
                _store(info, store_id),
                from_,
                to,
                width,
                line_id=line_id,
                camera_id=camera_id,
                time_zone=zone,
            )
        return [FootfallPoint.of(p) for p in points]

    @decorators.field(description="Store entries and exits: crossings of the store-entry lines.")
    async def footfall_totals(
        self, info: Info, from_: From, to: To, store_id: StoreArg = None
    ) -> FootfallTotals:
        _range(info, from_, to)
        async with info.context.gateway.db.connection() as conn:
            totals = await footfall.totals(conn, _store(info, store_id), from_, to)
        return FootfallTotals(entries=totals.entries, exits=totals.exits)

    @decorators.field(
        description="Visits (journeys across cameras) per bucket of their start (HOUR or DAY)."
    )
    async def unique_visits(
        self,
        info: Info,
        from_: From,
        to: To,
        bucket: Bucket = Bucket.HOUR,
        time_zone: TimeZoneArg = None,
        store_id: StoreArg = None,
    ) -> list[VisitCount]:
        width = _width(bucket, VISIT_BUCKETS)
        _range(info, from_, to, width)
        zone = _time_zone(time_zone)
        async with info.context.gateway.db.connection() as conn:
            counts = await journey_reads.counts(
                conn, _store(info, store_id), from_, to, width, zone
            )
        return [
            VisitCount(bucket_start=c.bucket, visits=c.visits, entered=c.entered) for c in counts
        ]

    @decorators.field(
        description="Time-weighted mean and peak occupancy per zone per bucket (every bucket "
        "up to now; a bucket without changes holds the previous level)."
    )
    async def zone_occupancy(
        self,
        info: Info,
        from_: From,
        to: To,
        camera_id: str | None = None,
        zone_id: str | None = None,
        bucket: Bucket = Bucket.MINUTE,
        store_id: StoreArg = None,
    ) -> list[ZoneOccupancyPoint]:
        points = await _occupancy_points(info, from_, to, camera_id, zone_id, bucket, store_id)
        return [ZoneOccupancyPoint.of(p) for p in points]

    @decorators.field(
        description="zoneOccupancy as one compact series per zone: parallel arrays "
        "(bucketStarts[i], mean[i], max[i]) instead of one object per bucket. Same figures "
        "and limits; a day of minutes is 3 arrays of 1,440 values rather than 1,440 "
        "objects, which is what the GraphQL response spends its time on."
    )
    async def zone_occupancy_series(
        self,
        info: Info,
        from_: From,
        to: To,
        camera_id: str | None = None,
        zone_id: str | None = None,
        bucket: Bucket = Bucket.MINUTE,
        store_id: StoreArg = None,
    ) -> list[ZoneOccupancySeries]:
        points = await _occupancy_points(info, from_, to, camera_id, zone_id, bucket, store_id)
        return ZoneOccupancySeries.of(points)

    @decorators.field(description="The newest occupancy of every zone.")
    async def current_occupancy(
        self, info: Info, store_id: StoreArg = None
    ) -> list[CurrentZoneOccupancy]:
        info.context.require(*READ)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn:
            rows = await occupancy.zones(conn, _store(info, store_id), None, None)
        return [CurrentZoneOccupancy.of(r) for r in rows]

    @decorators.field(description="Dwell per zone of the stays that ended in the range.")
    async def dwell(
        self,
        info: Info,
        from_: From,
        to: To,
        camera_id: str | None = None,
        zone_id: str | None = None,
        store_id: StoreArg = None,
    ) -> list[ZoneDwell]:
        _range(info, from_, to)
        async with info.context.gateway.db.connection() as conn:
            rows = await dwell.per_zone(
                conn, _store(info, store_id), from_, to, camera_id=camera_id, zone_id=zone_id
            )
        return [ZoneDwell.of(r) for r in rows]

    @decorators.field(description="Queue length, estimated wait and abandonments per bucket.")
    async def queues(
        self,
        info: Info,
        from_: From,
        to: To,
        zone_id: str | None = None,
        camera_id: str | None = None,
        bucket: Bucket = Bucket.MINUTE,
        store_id: StoreArg = None,
    ) -> list[QueuePoint]:
        _range(info, from_, to, bucket.width)
        async with info.context.gateway.db.connection() as conn:
            rows = await queues.series(
                conn,
                _store(info, store_id),
                from_,
                to,
                bucket.width,
                camera_id=camera_id,
                zone_id=zone_id,
            )
        return [QueuePoint.of(r) for r in rows]

    @decorators.field(description="A camera's heatmap over the hours of a range, or null.")
    async def heatmap(
        self, info: Info, camera_id: str, from_: From, to: To, store_id: StoreArg = None
    ) -> Heatmap | None:
        _range(info, from_, to)
        async with info.context.gateway.db.connection() as conn:
            grid = await heatmap.summed(conn, _store(info, store_id), camera_id, from_, to)
        return None if grid is None else Heatmap.of(grid)

    @decorators.field(description="Visits (journeys across cameras) that started in a range.")
    async def visits(
        self,
        info: Info,
        from_: From,
        to: To,
        first: int = 100,
        after: str | None = None,
        store_id: StoreArg = None,
    ) -> Page[Visit]:
        info.context.require(*READ)
        store = _store(info, store_id)
        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=lambda conn, limit, cursor: journey_reads.visits_page(
                conn, store, from_, to, limit, cursor
            ),
            node=Visit.of,
            key_columns=VISIT_KEY,
        )

    @decorators.field(description="Zone-to-zone flows of the visits that started in a range.")
    async def journey_flows(
        self, info: Info, from_: From, to: To, store_id: StoreArg = None
    ) -> list[JourneyFlow]:
        _range(info, from_, to)
        async with info.context.gateway.db.connection() as conn:
            flows = await journey_reads.flows(conn, _store(info, store_id), from_, to)
        return [JourneyFlow(source=f.source, target=f.target, visits=f.visits) for f in flows]

    @decorators.field(description="A configured funnel over the visits that started in a range.")
    async def funnel(
        self, info: Info, funnel_id: str, from_: From, to: To, store_id: StoreArg = None
    ) -> FunnelReport:
        _range(info, from_, to)
        store = _store(info, store_id)
        async with info.context.gateway.db.connection() as conn:
            config = await current_config(conn, store)
            found = (
                None
                if config is None
                else next((f for f in config.funnels if f.id == funnel_id), None)
            )
            if config is None or found is None:
                raise api_error(f"no funnel {funnel_id!r}", NOT_FOUND, field="funnelId")
            figures = await funnels.figures(conn, store, found.id, len(found.stages), from_, to)
        reports = []
        previous = figures.visits
        for stage, figure in zip(found.stages, figures.stages, strict=True):
            reports.append(
                FunnelStageReport(
                    name=stage_name(stage),
                    visits=figure.visits,
                    conversion=figure.visits / previous if previous else 0.0,
                    median_seconds_from_previous=figure.median_s,
                )
            )
            previous = figure.visits
        return FunnelReport(
            funnel_id=found.id, name=found.name, visits=figures.visits, stages=reports
        )
