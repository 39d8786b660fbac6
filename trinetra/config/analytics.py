"""A store's analytics configuration: zones, counting lines and funnels.

A contract, not an engine detail: the gateway validates and versions what an operator
draws (and writes it to the NATS KV bucket ANALYTICS_CONFIG, `trinetra.events.kv`), the
analytics service runs it, and every analytics event names the `version` it came from.

Validated once when it is loaded (a typo or a bowtie polygon fails with the field named,
not as odd numbers on the dashboard a week later) and immutable afterwards: the engine
precomputes its geometry from it and swaps whole configurations (`apply_config`), so
nothing may change under it.

Coordinates are normalized image coordinates: x = pixel x / frame width, y = pixel y /
frame height, both in [0, 1], y pointing down. A person's position is their foot point,
the bottom centre of their box, because that is where they stand on the floor: zones and
lines are drawn on the floor.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from trinetra.config.alerts import (
    AlertRule,
    WebhookEndpoint,
    check_alert_references,
)
from trinetra.config.geometry import Point, polygon_area, self_intersection
from trinetra.config.limits import (
    MAX_ALERT_RULES,
    MAX_FUNNEL_STAGES,
    MAX_FUNNELS,
    MAX_LINES,
    MAX_NAME_LENGTH,
    MAX_POLYGON_VERTICES,
    MAX_STORE_CAMERAS,
    MAX_WEBHOOKS,
    MAX_ZONES,
    MAX_ZONES_PER_CAMERA,
    check_size,
)
from trinetra.settings import ConfigModel

# Same shape as camera ids in the camera configuration: lowercase slug, NATS-subject safe.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
STORE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# Size limits live with every other configuration limit (trinetra.config.limits).
MIN_POLYGON_AREA = 1e-6  # of the frame; anything smaller is a degenerate drawing

Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=1, max_length=63)]


class ZoneKind(StrEnum):
    """What a zone is for; queue and checkout zones drive the queue analytics."""

    AREA = "area"
    QUEUE = "queue"
    CHECKOUT = "checkout"
    ENTRANCE = "entrance"
    EXIT = "exit"
    STAFF_ONLY = "staff_only"
    DISPLAY = "display"
    FITTING_ROOM = "fitting_room"
    SERVICE_COUNTER = "service_counter"


SERVICE_KINDS = frozenset({ZoneKind.CHECKOUT, ZoneKind.SERVICE_COUNTER})


def _check_unit_point(point: Point, what: str) -> None:
    x, y = point
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{what} ({x}, {y}) is not a finite point")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(
            f"{what} ({x}, {y}) is outside the frame: coordinates are normalized to [0, 1]"
        )


class ZoneDefinition(ConfigModel):
    """A region of one camera's floor, as a simple polygon in normalized coordinates."""

    id: Slug = Field(description="Zone id, unique in the store (slug).")
    camera_id: Slug = Field(description="The camera whose image the polygon is drawn on.")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Human-readable name.")
    kind: ZoneKind = Field(description="What the zone is for (area, queue, checkout, ...).")
    polygon: tuple[Point, ...] = Field(
        description="Vertices (x, y) in drawing order, normalized to 0..1 of the frame's "
        f"width and height; 3 to {MAX_POLYGON_VERTICES} vertices, a simple polygon (edges "
        "do not cross or touch) with non-zero area. The closing edge is implied."
    )
    capacity: int | None = Field(
        default=None, ge=1, le=100_000, description="People the zone holds; None: unlimited."
    )
    dwell_threshold_s: float | None = Field(
        default=None,
        gt=0.0,
        le=86_400.0,
        description="Emit a DwellThresholdExceeded event when one stay lasts this long.",
    )
    wait_threshold_s: float | None = Field(
        default=None,
        gt=0.0,
        le=86_400.0,
        description="Queue zones only: the estimated wait above which a queue snapshot is "
        "flagged as over threshold.",
    )
    physical_area: Slug | None = Field(
        default=None,
        description="Ties zones on different cameras that cover the same physical area, so "
        "store-level occupancy and a linked visit's dwell count a person seen by both once.",
    )
    checkout_zone_ids: tuple[Slug, ...] = Field(
        default=(),
        max_length=MAX_ZONES_PER_CAMERA,
        description="Queue zones only: the checkout / service-counter zones (same camera) "
        "this queue is served by. Empty: every checkout or service-counter zone of the "
        "camera. Leaving the queue into one of them is a service; leaving it without "
        "reaching one in time is an abandonment.",
    )

    @field_validator("polygon", mode="before")
    @classmethod
    def _bounded_polygon(cls, polygon: object) -> object:
        # Before the points are parsed: an oversized polygon costs nothing to refuse.
        check_size(polygon, MAX_POLYGON_VERTICES, "vertices per zone polygon")
        return polygon

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, polygon: tuple[Point, ...]) -> tuple[Point, ...]:
        n = len(polygon)
        if n < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {n}")
        if n > MAX_POLYGON_VERTICES:
            raise ValueError(f"a polygon has at most {MAX_POLYGON_VERTICES} vertices, got {n}")
        for i, vertex in enumerate(polygon):
            _check_unit_point(vertex, f"vertex {i}")
        for i in range(n):
            if polygon[i] == polygon[(i + 1) % n]:
                raise ValueError(f"vertex {(i + 1) % n} repeats vertex {i}")
        crossing = self_intersection(polygon)
        if crossing is not None:
            i, j = crossing
            raise ValueError(
                f"polygon is self-intersecting: edge {i} (vertex {i} -> {(i + 1) % n}) "
                f"meets edge {j} (vertex {j} -> {(j + 1) % n})"
            )
        area = abs(polygon_area(polygon))
        if area < MIN_POLYGON_AREA:
            raise ValueError(
                f"polygon encloses no area ({area:.2e} of the frame): vertices are collinear"
            )
        return polygon

    @model_validator(mode="after")
    def _queue_only_fields(self) -> Self:
        if self.kind is not ZoneKind.QUEUE:
            if self.wait_threshold_s is not None:
                raise ValueError(f"zone {self.id}: wait_threshold_s is for queue zones only")
            if self.checkout_zone_ids:
                raise ValueError(f"zone {self.id}: checkout_zone_ids is for queue zones only")
        return self


class LineDefinition(ConfigModel):
    """A counting line (a doorway, an aisle mouth) on one camera's floor.

    Direction convention: stand on the image at `a`, face `b`; with the image viewed
    normally (y grows downwards) `in_side` is the side of the segment that counts as
    "in". For a = (0, 0.5), b = (1, 0.5) the lower half of the image is on the right.
    A person moving onto `in_side` crosses "in", moving off it crosses "out".
    """

    id: Slug = Field(description="Line id, unique in the store (slug).")
    camera_id: Slug = Field(description="The camera whose image the line is drawn on.")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Human-readable name.")
    a: Point = Field(description="First endpoint (x, y), normalized to 0..1.")
    b: Point = Field(description="Second endpoint (x, y), normalized to 0..1.")
    in_side: Literal["left", "right"] = Field(
        description="Side of the directed segment a -> b, as seen on the image (y down), "
        "that is inside: crossing onto it counts 'in'."
    )
    counts_store_entry: bool = Field(
        default=False,
        description="Crossing this line 'in' enters the store (starts the store-entry part "
        "of a visit), crossing it 'out' leaves the store (ends the visit).",
    )

    @model_validator(mode="after")
    def _endpoints(self) -> Self:
        _check_unit_point(self.a, "endpoint a")
        _check_unit_point(self.b, "endpoint b")
        if math.dist(self.a, self.b) < 1e-4:
            raise ValueError(f"line {self.id}: endpoints a and b coincide")
        return self


class StoreEntryStage(ConfigModel):
    """A funnel stage reached by entering the store (an entry-line crossing 'in')."""

    kind: Literal["store_entry"] = Field(description="Stage type tag.")


class ZoneStage(ConfigModel):
    """A funnel stage reached by entering any of the listed zones."""

    kind: Literal["zone"] = Field(description="Stage type tag.")
    zone_ids: tuple[Slug, ...] = Field(
        min_length=1, max_length=MAX_ZONES, description="Zones, any of which reaches the stage."
    )


class ZoneKindStage(ConfigModel):
    """A funnel stage reached by entering any zone of a kind (e.g. any checkout)."""

    kind: Literal["zone_kind"] = Field(description="Stage type tag.")
    zone_kind: ZoneKind = Field(description="Entering any zone of this kind reaches the stage.")


FunnelStage = Annotated[StoreEntryStage | ZoneStage | ZoneKindStage, Field(discriminator="kind")]


class FunnelDefinition(ConfigModel):
    """An ordered sequence of stages a visit may go through (entry -> display -> checkout)."""

    id: Slug = Field(description="Funnel id, unique in the store (slug).")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Human-readable name.")
    stages: tuple[FunnelStage, ...] = Field(
        min_length=2,
        max_length=MAX_FUNNEL_STAGES,
        description="2 to 10 stages, in order; a stage counts only if reached at or after "
        "the previous one.",
    )


class StoreAnalyticsConfig(ConfigModel):
    """Everything the engine needs to know about one store's zones, lines and funnels."""

    store_id: str = Field(pattern=STORE_ID_PATTERN, description="The store's id.")
    version: int = Field(
        ge=1, description="Configuration version; carried by every event it produced."
    )
    camera_ids: tuple[Slug, ...] | None = Field(
        default=None,
        max_length=MAX_STORE_CAMERAS,
        description="The store's cameras. When set, every zone and line must name one of "
        "them (a zone on a camera id with a typo would silently never see anyone).",
    )
    zones: tuple[ZoneDefinition, ...] = Field(
        default=(),
        max_length=MAX_ZONES,
        description=f"Zones, at most {MAX_ZONES} in all and {MAX_ZONES_PER_CAMERA} per camera.",
    )
    lines: tuple[LineDefinition, ...] = Field(
        default=(), max_length=MAX_LINES, description=f"Counting lines, at most {MAX_LINES}."
    )
    funnels: tuple[FunnelDefinition, ...] = Field(
        default=(), max_length=MAX_FUNNELS, description=f"Funnels, at most {MAX_FUNNELS}."
    )
    # Alert rules and webhooks (analytics/alerts) are sections of this same model, added
    # by their owners; the analytics service ignores sections it does not run.
    alert_rules: tuple[AlertRule, ...] = Field(
        default=(),
        max_length=MAX_ALERT_RULES,
        description=f"Alert rules (trinetra.config.alerts), at most {MAX_ALERT_RULES}.",
    )
    webhooks: tuple[WebhookEndpoint, ...] = Field(
        default=(),
        max_length=MAX_WEBHOOKS,
        description=f"Webhook endpoints the alerts are delivered to, at most {MAX_WEBHOOKS}.",
    )

    @model_validator(mode="after")
    def _alert_references(self) -> Self:
        # The rules may only name this store's zones (of the right kind), lines, cameras.
        check_alert_references(
            self.alert_rules,
            self.webhooks,
            zones={zone.id: zone for zone in self.zones},
            line_ids=[line.id for line in self.lines],
            camera_ids=self.camera_ids,
        )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for what, ids in (
            ("zone", [z.id for z in self.zones]),
            ("line", [ln.id for ln in self.lines]),
            ("funnel", [f.id for f in self.funnels]),
        ):
            dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
            if dupes:
                raise ValueError(f"duplicate {what} ids: {', '.join(dupes)}")
        if self.camera_ids is not None:
            dupes = sorted(i for i, n in Counter(self.camera_ids).items() if n > 1)
            if dupes:
                raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
            known = set(self.camera_ids)
            for zone in self.zones:
                if zone.camera_id not in known:
                    raise ValueError(f"zone {zone.id}: unknown camera {zone.camera_id}")
            for line in self.lines:
                if line.camera_id not in known:
                    raise ValueError(f"line {line.id}: unknown camera {line.camera_id}")
        per_camera = Counter(z.camera_id for z in self.zones)
        for camera, count in sorted(per_camera.items()):
            if count > MAX_ZONES_PER_CAMERA:
                raise ValueError(
                    f"camera {camera} has {count} zones, at most {MAX_ZONES_PER_CAMERA} allowed"
                )
        zones = {z.id: z for z in self.zones}
        for zone in self.zones:
            for target in zone.checkout_zone_ids:
                other = zones.get(target)
                if other is None:
                    raise ValueError(f"zone {zone.id}: unknown checkout zone {target}")
                if other.camera_id != zone.camera_id:
                    raise ValueError(
                        f"zone {zone.id}: checkout zone {target} is on camera "
                        f"{other.camera_id}, not {zone.camera_id}"
                    )
                if other.kind not in SERVICE_KINDS:
                    raise ValueError(
                        f"zone {zone.id}: zone {target} is a {other.kind} zone, not a "
                        "checkout or service_counter"
                    )
        areas: dict[str, list[ZoneDefinition]] = defaultdict(list)
        for zone in self.zones:
            if zone.physical_area is not None:
                areas[zone.physical_area].append(zone)
        for area, members in sorted(areas.items()):
            cameras = Counter(z.camera_id for z in members)
            twice = sorted(c for c, n in cameras.items() if n > 1)
            if twice:
                raise ValueError(
                    f"physical area {area}: camera {twice[0]} has more than one zone in it "
                    "(a physical area is one zone per camera that sees it)"
                )
            kinds = sorted({z.kind.value for z in members})
            if len(kinds) > 1:
                raise ValueError(
                    f"physical area {area}: its zones have different kinds ({', '.join(kinds)})"
                )
        for funnel in self.funnels:
            for index, stage in enumerate(funnel.stages):
                if isinstance(stage, ZoneStage):
                    for zone_id in stage.zone_ids:
                        if zone_id not in zones:
                            raise ValueError(
                                f"funnel {funnel.id}: stage {index} names unknown zone {zone_id}"
                            )
        return self

    def zones_of(self, camera_id: str) -> tuple[ZoneDefinition, ...]:
        """This camera's zones, in configuration order."""
        return tuple(z for z in self.zones if z.camera_id == camera_id)

    def lines_of(self, camera_id: str) -> tuple[LineDefinition, ...]:
        """This camera's lines, in configuration order."""
        return tuple(ln for ln in self.lines if ln.camera_id == camera_id)
