"""GraphQL types of the retail analytics: the configuration (zones, lines, funnels, alert
rules, webhooks) and its history, the figures read from the aggregates, and the live
updates of the subscriptions. Times are UTC; coordinates are normalized to 0..1 of the
camera frame's width and height (x right, y down)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import cast

import asyncpg
import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.context import Info
from gateway.auth import Scope
from gateway.db.analytics import dwell, footfall, heatmap, occupancy, queues
from gateway.db.analytics.buckets import Width
from gateway.db.analytics.config import ConfigVersion
from trinetra.config.analytics import (
    FunnelDefinition,
    LineDefinition,
    StoreAnalyticsConfig,
    StoreEntryStage,
    ZoneDefinition,
    ZoneKindStage,
)
from trinetra.config.analytics import FunnelStage as ConfigFunnelStage
from trinetra.events.schema import LineCrossedEvent, QueueSnapshotEvent, ZoneOccupancyEvent


@strawberry.enum(
    description="Bucket width of a time series: buckets start on UTC minute, quarter-hour, "
    "hour or midnight boundaries (or the given time zone's, where a query takes one). An "
    "API argument, not a stored vocabulary: each query says which widths it offers."
)
class Bucket(Enum):
    MINUTE = "MINUTE"
    FIFTEEN_MINUTES = "FIFTEEN_MINUTES"
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def width(self) -> Width:
        return Width[self.name]


# --- configuration -------------------------------------------------------------------


@strawberry.type(description="A polygon zone on one camera's floor.")
class Zone:
    id: str
    camera_id: str
    name: str
    kind: str = strawberry.field(
        description="area, queue, checkout, entrance, exit, staff_only, display, "
        "fitting_room or service_counter."
    )
    polygon: list[list[float]] = strawberry.field(
        description="Vertices [x, y] in drawing order, normalized 0..1."
    )
    capacity: int | None
    dwell_threshold_s: float | None
    wait_threshold_s: float | None
    physical_area: str | None
    checkout_zone_ids: list[str]

    @classmethod
    def of(cls, zone: ZoneDefinition) -> Zone:
        return cls(
            id=zone.id,
            camera_id=zone.camera_id,
            name=zone.name,
            kind=zone.kind.value,
            polygon=[[x, y] for x, y in zone.polygon],
            capacity=zone.capacity,
            dwell_threshold_s=zone.dwell_threshold_s,
            wait_threshold_s=zone.wait_threshold_s,
            physical_area=zone.physical_area,
            checkout_zone_ids=list(zone.checkout_zone_ids),
        )


@strawberry.type(description="A directed counting line on one camera's floor.")
class Line:
    id: str
    camera_id: str
    name: str
    kind: str = strawberry.field(
        description="store_entry: crossings in and out count store entries and exits; "
        "counting: any other line."
    )
    points: list[list[float]] = strawberry.field(
        description="The endpoints [[ax, ay], [bx, by]], normalized 0..1."
    )
    in_side: str = strawberry.field(
        description="left or right of a -> b (image viewed normally, y down): crossing onto "
        "it counts in."
    )
    counts_store_entry: bool

    @classmethod
    def of(cls, line: LineDefinition) -> Line:
        return cls(
            id=line.id,
            camera_id=line.camera_id,
            name=line.name,
            kind="store_entry" if line.counts_store_entry else "counting",
            points=[list(line.a), list(line.b)],
            in_side=line.in_side,
            counts_store_entry=line.counts_store_entry,
        )


def stage_name(stage: ConfigFunnelStage) -> str:
    """A funnel stage's label: what reaches it."""
    if isinstance(stage, StoreEntryStage):
        return "store entry"
    if isinstance(stage, ZoneKindStage):
        return f"any {stage.zone_kind.value} zone"
    return " or ".join(stage.zone_ids)


@strawberry.type(description="One stage of a funnel.")
class FunnelStageDefinition:
    name: str
    kind: str = strawberry.field(description="store_entry, zone or zone_kind.")
    zone_ids: list[str] | None
    zone_kind: str | None


@strawberry.type(description="A funnel: ordered stages a visit may go through.")
class Funnel:
    id: str
    name: str
    stages: list[FunnelStageDefinition]

    @classmethod
    def of(cls, funnel: FunnelDefinition) -> Funnel:
        stages = []
        for stage in funnel.stages:
            zone_ids = list(getattr(stage, "zone_ids", ())) or None
            zone_kind = stage.zone_kind.value if isinstance(stage, ZoneKindStage) else None
            stages.append(
                FunnelStageDefinition(
                    name=stage_name(stage), kind=stage.kind, zone_ids=zone_ids, zone_kind=zone_kind
                )
            )
        return cls(id=funnel.id, name=funnel.name, stages=stages)


@strawberry.type(description="An alert rule; `settings` holds all of its fields.")
class AlertRule:
    id: str
    name: str
    kind: str
    severity: str
    enabled: bool
    cooldown_s: float
    settings: JSON


@strawberry.type(description="A webhook endpoint (its secret is write-only, never shown).")
class Webhook:
    id: str
    url: str
    enabled: bool
    severities: list[str]
    rule_kinds: list[str]
    send_resolved: bool
    max_attempts: int
    timeout_s: float
    has_secret: bool


@strawberry.type(description="A store's analytics configuration, as of one version.")
class AnalyticsConfig:
    store_id: str
    version: int = strawberry.field(description="0: nothing configured yet.")
    updated_at: datetime | None
    updated_by: str | None
    camera_ids: list[str] | None
    zones: list[Zone]
    lines: list[Line]
    funnels: list[Funnel]
    alert_rules: list[AlertRule]
    webhooks: list[Webhook]
    document: JSON = strawberry.field(
        description="The whole configuration as JSON (webhook secrets masked): edit it and "
        "pass it to replaceAnalyticsConfig; a masked secret keeps the stored one."
    )

    @classmethod
    def empty(cls, store_id: str) -> AnalyticsConfig:
        return cls(
            store_id=store_id,
            version=0,
            updated_at=None,
            updated_by=None,
            camera_ids=None,
            zones=[],
            lines=[],
            funnels=[],
            alert_rules=[],
            webhooks=[],
            document=cast(JSON, {"store_id": store_id, "version": 0}),
        )

    @classmethod
    def of(cls, stored: ConfigVersion, config: StoreAnalyticsConfig) -> AnalyticsConfig:
        """A stored version, from its model (validated once: gateway/db/analytics/config)."""
        from gateway.api.analytics_changes import masked

        rules = []
        for rule in config.alert_rules:
            data = rule.model_dump(mode="json")
            rules.append(
                AlertRule(
                    id=rule.id,
                    name=rule.name,
                    kind=rule.kind,
                    severity=str(data["severity"]),
                    enabled=rule.enabled,
                    cooldown_s=rule.cooldown_s,
                    settings=cast(JSON, data),
                )
            )
        hooks = [
            Webhook(
                id=hook.id,
                url=hook.url,
                enabled=hook.enabled,
                severities=[str(s) for s in hook.severities],
                rule_kinds=[str(k) for k in hook.rule_kinds],
                send_resolved=hook.send_resolved,
                max_attempts=hook.max_attempts,
                timeout_s=hook.timeout_s,
                has_secret=bool(hook.secret.get_secret_value()),
            )
            for hook in config.webhooks
        ]
        # model_dump masks webhook secrets already; masked() keeps it so if that changes.
        document = masked(config.model_dump(mode="json"))
        return cls(
            store_id=config.store_id,
            version=config.version,
            updated_at=stored.created_at,
            updated_by=stored.actor,
            camera_ids=None if config.camera_ids is None else list(config.camera_ids),
            zones=[Zone.of(z) for z in config.zones],
            lines=[Line.of(ln) for ln in config.lines],
            funnels=[Funnel.of(f) for f in config.funnels],
            alert_rules=rules,
            webhooks=hooks,
            document=cast(JSON, document),
        )


@strawberry.type(description="One version of the analytics configuration: who, what, when.")
class AnalyticsConfigVersion:
    version: int
    created_at: datetime
    actor: str
    action: str = strawberry.field(description="e.g. analytics_config.put_zone.")
    reason: str | None
    diff: JSON = strawberry.field(
        description="Per section: ids added (with their values), removed, and changed (the "
        "fields that changed, and the new value); secrets are never included."
    )

    @classmethod
    def of(cls, stored: ConfigVersion) -> AnalyticsConfigVersion:
        return cls(
            version=stored.version,
            created_at=stored.created_at,
            actor=stored.actor,
            action=stored.action,
            reason=stored.reason,
            diff=cast(JSON, stored.diff),
        )


# --- figures -------------------------------------------------------------------------


@strawberry.type(
    description="Crossings of one line in one bucket (buckets without any are left out)."
)
class FootfallPoint:
    bucket_start: datetime
    line_id: str
    camera_id: str
    entries: int = strawberry.field(description="Crossings in.")
    exits: int = strawberry.field(description="Crossings out.")

    @classmethod
    def of(cls, point: footfall.FootfallPoint) -> FootfallPoint:
        return cls(
            bucket_start=point.bucket,
            line_id=point.line_id,
            camera_id=point.camera_id,
            entries=point.entries,
            exits=point.exits,
        )


@strawberry.type(description="Store entries and exits: crossings of the store-entry lines.")
class FootfallTotals:
    entries: int
    exits: int


@strawberry.type(description="Visits (journeys) that started in one bucket.")
class VisitCount:
    bucket_start: datetime
    visits: int
    entered: int = strawberry.field(
        description="Of them, visits that crossed a store-entry line in."
    )


@strawberry.type(description="A zone's occupancy over one bucket.")
class ZoneOccupancyPoint:
    minute: datetime = strawberry.field(description="Start of the bucket (a minute by default).")
    camera_id: str
    zone_id: str
    mean: float = strawberry.field(description="Time-weighted mean number of people inside.")
    max: int = strawberry.field(description="Most people inside at once.")

    @classmethod
    def of(cls, point: occupancy.OccupancyPoint) -> ZoneOccupancyPoint:
        return cls(
            minute=point.bucket,
            camera_id=point.camera_id,
            zone_id=point.zone_id,
            mean=point.mean,
            max=point.peak,
        )


@strawberry.type(
    description="A zone's occupancy series as parallel arrays: bucket i starts at "
    "bucketStarts[i] and has mean[i] and max[i] (zoneOccupancyPoint's mean and max)."
)
class ZoneOccupancySeries:
    camera_id: str
    zone_id: str
    bucket_starts: list[datetime]
    mean: list[float] = strawberry.field(description="Time-weighted mean people inside.")
    max: list[int] = strawberry.field(description="Most people inside at once.")

    @classmethod
    def of(cls, points: Sequence[occupancy.OccupancyPoint]) -> list[ZoneOccupancySeries]:
        """One series per zone, zones and buckets in the order of `points`."""
        series: dict[tuple[str, str], ZoneOccupancySeries] = {}
        for p in points:
            key = (p.camera_id, p.zone_id)
            one = series.get(key)
            if one is None:
                one = series[key] = cls(
                    camera_id=p.camera_id, zone_id=p.zone_id, bucket_starts=[], mean=[], max=[]
                )
            one.bucket_starts.append(p.bucket)
            one.mean.append(p.mean)
            one.max.append(p.peak)
        return list(series.values())


@strawberry.type(description="The newest occupancy of a zone.")
class CurrentZoneOccupancy:
    camera_id: str
    zone_id: str
    count: int
    capacity: int | None
    at: datetime = strawberry.field(description="Frame time of the change that set it.")

    @classmethod
    def of(cls, row: occupancy.CurrentOccupancy) -> CurrentZoneOccupancy:
        return cls(
            camera_id=row.camera_id,
            zone_id=row.zone_id,
            count=row.count,
            capacity=row.capacity,
            at=row.at,
        )


@strawberry.type(
    description="Dwell of the stays that ended in a zone in the range. p50/p90 "
    "are interpolated in a log-spaced histogram ([0, 1) s, then 16 buckets per doubling: "
    "edges 2^(k/16) s): within 4.43% of the exact percentile (1 s below 1 s). meanS is "
    "exact."
)
class ZoneDwell:
    camera_id: str
    zone_id: str
    visits: int = strawberry.field(description="Stays.")
    mean_s: float
    p50_s: float
    p90_s: float

    @classmethod
    def of(cls, row: dwell.ZoneDwell) -> ZoneDwell:
        return cls(
            camera_id=row.camera_id,
            zone_id=row.zone_id,
            visits=row.visits,
            mean_s=row.mean_s,
            p50_s=row.p50_s,
            p90_s=row.p90_s,
        )


@strawberry.type(
    description="A queue zone over one bucket (buckets without snapshots or "
    "abandonments are left out)."
)
class QueuePoint:
    minute: datetime = strawberry.field(description="Start of the bucket.")
    camera_id: str
    zone_id: str
    mean_length: float | None
    max_length: int | None
    mean_wait_s: float | None = strawberry.field(
        description="Mean estimated wait (length x median service time); null before a "
        "service was seen."
    )
    abandoned: int = strawberry.field(description="People who left the queue without service.")

    @classmethod
    def of(cls, row: queues.QueuePoint) -> QueuePoint:
        return cls(
            minute=row.bucket,
            camera_id=row.camera_id,
            zone_id=row.zone_id,
            mean_length=row.mean_length,
            max_length=row.max_length,
            mean_wait_s=row.mean_wait_s,
            abandoned=row.abandoned,
        )


@strawberry.type(
    description="A camera's heatmap summed over the hours of a range, row-major rows x cols."
)
class Heatmap:
    camera_id: str
    cols: int
    rows: int
    minutes: int = strawberry.field(description="Per-minute grids summed.")
    person_seconds: list[float] = strawberry.field(
        description="Seconds people stood in each cell (foot points x frame interval)."
    )
    flow_dx: list[float] = strawberry.field(
        description="Mean horizontal velocity per cell, frame widths per second."
    )
    flow_dy: list[float] = strawberry.field(
        description="Mean vertical velocity per cell, frame heights per second."
    )

    @classmethod
    def of(cls, grid: heatmap.Heatmap) -> Heatmap:
        return cls(
            camera_id=grid.camera_id,
            cols=grid.cols,
            rows=grid.rows,
            minutes=grid.grids,
            person_seconds=grid.person_seconds,
            flow_dx=grid.flow_dx,
            flow_dy=grid.flow_dy,
        )


@strawberry.type(
    description="A visit across cameras: a journey (gateway/db/analytics/"
    "journeys.py documents how tracks are joined)."
)
class Visit:
    visit_id: uuid.UUID = strawberry.field(
        description="The identity service's visit id, or the track's id for a per-camera journey."
    )
    linked: bool = strawberry.field(description="It joins several camera tracks.")
    camera_ids: list[str]
    started_at: datetime
    entered_at: datetime | None = strawberry.field(
        description="First store-entry crossing in; null if none was seen."
    )
    ended_at: datetime
    duration_s: float = strawberry.field(description="From entry (or first sighting) to end.")
    path: list[str] = strawberry.field(
        description="Zones entered in order, consecutive repeats removed."
    )
    customer: strawberry.Private[str | None]

    @decorators.field(description="The enrolled customer: privacy officers only, else null.")
    def customer_id(self, info: Info) -> str | None:
        principal = info.context.principal
        if principal is None or not principal.has(Scope.PRIVACY_OFFICER):
            return None
        return self.customer

    @classmethod
    def of(cls, row: asyncpg.Record) -> Visit:
        return cls(
            visit_id=row["journey_id"],
            linked=row["linked"],
            camera_ids=list(row["camera_ids"]),
            started_at=row["started_at"],
            entered_at=row["entered_at"],
            ended_at=row["ended_at"],
            duration_s=row["duration_s"],
            path=list(row["path"]),
            customer=row["customer_id"],
        )


@strawberry.type(
    description="Visits going from one zone to the next (`entrance` before a "
    "visit's first zone, `exit` after its last)."
)
class JourneyFlow:
    source: str
    target: str
    visits: int


@strawberry.type(description="One stage of a funnel report.")
class FunnelStageReport:
    name: str
    visits: int = strawberry.field(description="Visits that reached it, in stage order.")
    conversion: float = strawberry.field(
        description="Of the visits that reached the previous stage (the first: of all "
        "visits in the range), the share that reached this one (0 when none did)."
    )
    median_seconds_from_previous: float | None = strawberry.field(
        description="Median seconds from reaching the previous stage (null for the first)."
    )


@strawberry.type(description="A funnel over the visits that started in a range.")
class FunnelReport:
    funnel_id: str
    name: str
    visits: int = strawberry.field(description="Visits in the range.")
    stages: list[FunnelStageReport]


# --- live ----------------------------------------------------------------------------


@strawberry.type(description="A zone's occupancy changed (live zone.occupancy).")
class ZoneOccupancyUpdate:
    camera_id: str
    zone_id: str
    count: int
    previous: int
    capacity: int | None
    over_capacity: bool
    at: datetime
    config_version: int

    @classmethod
    def of(cls, event: ZoneOccupancyEvent) -> ZoneOccupancyUpdate:
        return cls(
            camera_id=event.camera_id,
            zone_id=event.zone_id,
            count=event.count,
            previous=event.previous,
            capacity=event.capacity,
            over_capacity=event.over_capacity,
            at=event.occurred_at,
            config_version=event.config_version,
        )


@strawberry.type(description="A queue zone's state (live queue.snapshot).")
class QueueState:
    camera_id: str
    zone_id: str
    length: int
    median_service_s: float | None
    estimated_wait_s: float | None
    observed_wait_s: float | None
    served: int
    abandoned: int
    over_wait_threshold: bool
    at: datetime

    @classmethod
    def of(cls, event: QueueSnapshotEvent) -> QueueState:
        return cls(
            camera_id=event.camera_id,
            zone_id=event.zone_id,
            length=event.length,
            median_service_s=event.median_service_s,
            estimated_wait_s=event.estimated_wait_s,
            observed_wait_s=event.observed_wait_s,
            served=event.served,
            abandoned=event.abandoned,
            over_wait_threshold=event.over_wait_threshold,
            at=event.occurred_at,
        )


@strawberry.type(description="A line crossing, with the line's running totals since `since`.")
class FootfallCounter:
    line_id: str
    camera_id: str
    direction: str = strawberry.field(description="in or out.")
    crossed_at: datetime
    counts_store_entry: bool
    since: datetime
    entries: int = strawberry.field(description="Crossings in since `since`, this one included.")
    exits: int = strawberry.field(description="Crossings out since `since`.")

    @classmethod
    def of(
        cls, event: LineCrossedEvent, since: datetime, entries: int, exits: int
    ) -> FootfallCounter:
        return cls(
            line_id=event.line_id,
            camera_id=event.camera_id,
            direction=event.direction,
            crossed_at=event.crossed_at,
            counts_store_entry=event.counts_store_entry,
            since=since,
            entries=entries,
            exits=exits,
        )
