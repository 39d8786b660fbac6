"""What the engine emits: immutable analytics events, each with its frame time and the
configuration version that produced it.

Every event carries `at`, the frame time of the input that caused it (never the wall
clock), and `config_version`, so a consumer can tell figures computed under an old zone
layout from new ones after a live configuration change. Times that happened before the
input that revealed them (a stay confirmed three frames after the person stepped in) are
separate fields (`entered_at`, `crossed_at`, ...), back-dated to when it really happened.

`to_dict` gives the JSON-able form (ISO-8601 times, lists for tuples) for the service
wiring; the dataclasses themselves are what tests and pure consumers use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, TypeAlias

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

ExitReason = Literal["exited", "track_ended", "timeout", "zone_removed"]
Direction = Literal["in", "out"]
VisitEndReason = Literal["exited", "track_ended", "timeout"]


def _json(value: object) -> JsonValue:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineEvent:
    """Common envelope of every analytics event."""

    type: ClassVar[str] = "engine.event"

    at: datetime
    config_version: int

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-able form: the fields plus `type`."""
        out: dict[str, JsonValue] = {"type": self.type}
        for f in dataclasses.fields(self):
            out[f.name] = _json(getattr(self, f.name))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneEntered(EngineEvent):
    """A track has been inside a zone for `min_frames_inside` observations; `entered_at`
    is the first of them."""

    type: ClassVar[str] = "zone.entered"

    camera_id: str
    zone_id: str
    track_id: int
    visit_id: str | None
    entered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneExited(EngineEvent):
    """A stay in a zone ended. `reason`: the track walked out ('exited'), the track ended
    or timed out while inside ('track_ended', 'timeout': closed at its last sighting),
    or the zone was removed by a configuration change ('zone_removed')."""

    type: ClassVar[str] = "zone.exited"

    camera_id: str
    zone_id: str
    track_id: int
    visit_id: str | None
    entered_at: datetime
    exited_at: datetime
    dwell_s: float
    reason: ExitReason


@dataclass(frozen=True, slots=True, kw_only=True)
class DwellThresholdExceeded(EngineEvent):
    """One stay has lasted the zone's `dwell_threshold_s` (emitted once per stay)."""

    type: ClassVar[str] = "zone.dwell_exceeded"

    camera_id: str
    zone_id: str
    track_id: int
    visit_id: str | None
    entered_at: datetime
    dwell_s: float
    threshold_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OccupancyChanged(EngineEvent):
    """The number of tracks inside a zone changed (emitted only on change, at most once
    per zone per frame)."""

    type: ClassVar[str] = "zone.occupancy"

    camera_id: str
    zone_id: str
    count: int
    previous: int
    capacity: int | None
    over_capacity: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AreaOccupancyChanged(EngineEvent):
    """Store-level occupancy of a physical area seen by several cameras: the largest of
    its zones' occupancies (the same people seen twice count once; the camera that sees
    more of them is the one less occluded)."""

    type: ClassVar[str] = "area.occupancy"

    area: str
    count: int
    previous: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCrossed(EngineEvent):
    """A track crossed a counting line; `crossed_at` is interpolated between the two
    observations either side of the line, `at` is the frame that committed it."""

    type: ClassVar[str] = "line.crossed"

    camera_id: str
    line_id: str
    track_id: int
    visit_id: str | None
    direction: Direction
    crossed_at: datetime
    counts_store_entry: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSnapshot(EngineEvent):
    """State of one queue zone, once per `queue_snapshot_interval_s` of frame time.

    `estimated_wait_s` = length x `median_service_s` (None until a service has been
    seen); `served` / `abandoned` count departures within the service window.
    """

    type: ClassVar[str] = "queue.snapshot"

    camera_id: str
    zone_id: str
    length: int
    median_service_s: float | None
    estimated_wait_s: float | None
    observed_wait_s: float | None
    served: int
    abandoned: int
    over_wait_threshold: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueAbandoned(EngineEvent):
    """Someone left a queue and did not reach one of its checkouts within
    `queue_abandon_after_s`."""

    type: ClassVar[str] = "queue.abandoned"

    camera_id: str
    zone_id: str
    track_id: int
    visit_id: str | None
    left_at: datetime
    waited_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HeatmapGrid(EngineEvent):
    """One camera's floor usage over one minute of frame time, row-major `rows` x `cols`.

    `samples`: foot points per cell (depends on the frame rate); `person_seconds`: each
    sample weighted by the camera's frame interval (capped), comparable across cameras and
    sampling rates; `flow_dx`, `flow_dy`: mean foot-point velocity in the cell, in frame
    widths / heights per second (0 where no velocity was measured); `flow_samples`:
    velocities averaged per cell.
    """

    type: ClassVar[str] = "heatmap.grid"

    camera_id: str
    minute_start: datetime
    cols: int
    rows: int
    samples: tuple[int, ...]
    person_seconds: tuple[float, ...]
    flow_dx: tuple[float, ...]
    flow_dy: tuple[float, ...]
    flow_samples: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StayRecord:
    """One zone stay inside a visit. `area` is the zone's physical area, or its id."""

    camera_id: str
    zone_id: str
    zone_kind: str
    area: str
    entered_at: datetime
    exited_at: datetime
    dwell_s: float


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """A completed store visit.

    `visit_id` is the identity service's visit id when `linked` (shared across cameras),
    otherwise "<camera>/<track>"; `ordinal` counts visits under the same id (someone who
    leaves and comes back). `entered_at` is the entry-line crossing, None if none was
    seen. `duration_s` runs from the entry (or the first sighting without one) to the end.
    `path` is the areas visited in order of entry, consecutive repeats removed;
    `area_dwell_s` is the union of the stays' intervals per area, so a physical area seen
    by two cameras counts once.
    """

    visit_id: str
    ordinal: int
    linked: bool
    customer_id: str | None
    camera_ids: tuple[str, ...]
    started_at: datetime
    entered_at: datetime | None
    ended_at: datetime
    end_reason: VisitEndReason
    duration_s: float
    stays: tuple[StayRecord, ...]
    path: tuple[str, ...]
    area_dwell_s: tuple[tuple[str, float], ...]

    @property
    def entered_store(self) -> bool:
        return self.entered_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitEnded(EngineEvent):
    """A visit is complete. `funnel_stages` is, per configured funnel, how many of its
    stages the visit reached (0: not even the first)."""

    type: ClassVar[str] = "visit.ended"

    visit: VisitRecord
    funnel_stages: tuple[tuple[str, int], ...]
