"""The engine: `CameraAnalytics` per camera, `StoreAnalytics` composing them.

    engine = StoreAnalytics(config)
    events = engine.process(frame)            # TrackedFrame -> list[EngineEvent]
    events += engine.end_track(camera_id, track_id, at)
    state = engine.snapshot()                 # JSON-able; StoreAnalytics(config).restore(state)

Determinism: the engine reads no clock and draws no random numbers. Time is the frames'
own `at`; periodic work (queue snapshots, dwell thresholds, track and visit timeouts)
runs on the first frame at or after each whole second of frame time; every dict is
iterated in insertion order, and `snapshot` / `restore` preserve that order. The same
input sequence, with or without a snapshot/restore in the middle, gives the same events.
A camera's frame older than its previous one is dropped (counted in `dropped_frames`):
time never runs backwards inside the engine. The snapshot holds the configuration it
was taken under but not the `EngineSettings`, which come from the process restoring it.

Hot path: `CameraAnalytics.process` touches no pydantic model. Each configuration is
compiled once into tuples and a zone lookup grid; per track it does one grid lookup
(the exact polygon test only near zone edges), one signed distance per line and one
heatmap cell. Zone work is skipped entirely when a track's zones did not change.

Live configuration: `apply_config` swaps the configuration between two frames. Stays
in zones that were removed close (reason 'zone_removed'), moved lines restart their
crossing state, queues keep their history, and from then on every event carries the new
`config_version` (including the ones the change itself produced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from analytics.config import EngineSettings
from analytics.engine.events import (
    AreaOccupancyChanged,
    EngineEvent,
    ExitReason,
    JsonValue,
    LineCrossed,
    OccupancyChanged,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from analytics.engine.funnel import stages_reached
from analytics.engine.heatmap import HeatmapAccumulator
from analytics.engine.lines import LineCounter, LineInfo, LineState
from analytics.engine.observations import TrackedFrame
from analytics.engine.queues import QueueInfo, QueueMonitor
from analytics.engine.visits import VisitTracker
from analytics.engine.zones import TrackZones, ZoneInfo, ZoneMembership, to_datetime
from trinetra.config.analytics import SERVICE_KINDS, StoreAnalyticsConfig, ZoneKind

SNAPSHOT_FORMAT = 1
_TICK_S = 1.0


class _Track:
    """Everything the engine remembers about one live track."""

    __slots__ = (
        "box_h",
        "customer_id",
        "fx",
        "fy",
        "last_t",
        "lines",
        "nx",
        "ny",
        "track_id",
        "visit_id",
        "zones",
    )

    def __init__(
        self, track_id: int, visit_id: str | None, customer_id: str | None, lines: list[LineState]
    ) -> None:
        self.track_id = track_id
        self.visit_id = visit_id
        self.customer_id = customer_id
        self.last_t = -math.inf
        self.nx = 0.0  # last foot point, normalized
        self.ny = 0.0
        self.fx = 0.0  # last foot point, pixels
        self.fy = 0.0
        self.box_h = 0.0  # last box height, pixels
        self.zones = TrackZones()
        self.lines = lines


def _zone_setup(
    config: StoreAnalyticsConfig, camera_id: str
) -> tuple[list[ZoneInfo], list[tuple[tuple[float, float], ...]], list[QueueInfo]]:
    zones = config.zones_of(camera_id)
    infos = [
        ZoneInfo(
            id=z.id,
            kind=z.kind.value,
            area=z.physical_area if z.physical_area is not None else z.id,
            capacity=z.capacity,
            dwell_threshold_s=z.dwell_threshold_s,
        )
        for z in zones
    ]
    polygons = [z.polygon for z in zones]
    services = frozenset(z.id for z in zones if z.kind in SERVICE_KINDS)
    queues = [
        QueueInfo(
            zone_id=z.id,
            checkout_zone_ids=frozenset(z.checkout_zone_ids) or services,
            wait_threshold_s=z.wait_threshold_s,
        )
        for z in zones
        if z.kind is ZoneKind.QUEUE
    ]
    return infos, polygons, queues


def _line_setup(config: StoreAnalyticsConfig, camera_id: str) -> list[LineInfo]:
    return [
        LineInfo(
            id=ln.id,
            a=ln.a,
            b=ln.b,
            in_sign=1 if ln.in_side == "right" else -1,
            counts_store_entry=ln.counts_store_entry,
        )
        for ln in config.lines_of(camera_id)
    ]


class CameraAnalytics:
    """Zones, lines, queues and the heatmap of one camera. `visits`, when given, is the
    store's visit tracker, fed with this camera's tracks, stays and entry crossings."""

    def __init__(
        self,
        camera_id: str,
        config: StoreAnalyticsConfig,
        settings: EngineSettings | None = None,
        visits: VisitTracker | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.settings = settings if settings is not None else EngineSettings()
        s = self.settings
        self._visits = visits
        infos, polygons, queues = _zone_setup(config, camera_id)
        self._membership = ZoneMembership(
            camera_id, infos, polygons, s.min_frames_inside, s.min_frames_outside
        )
        self._lines = LineCounter(
            camera_id,
            _line_setup(config, camera_id),
            s.min_crossing_frames,
            s.min_crossing_displacement,
            s.crossing_band_box_heights,
            s.crossing_segment_margin,
        )
        self._queues = QueueMonitor(
            camera_id,
            queues,
            s.queue_service_samples,
            s.queue_service_window_s,
            s.queue_abandon_after_s,
            s.queue_snapshot_interval_s,
        )
        self._heat = HeatmapAccumulator(camera_id, s.heatmap_cols, s.heatmap_rows)
        self._tracks: dict[int, _Track] = {}
        self._last_t: float | None = None
        self._last_at: datetime | None = None
        self._next_tick: float | None = None
        self._size: tuple[int, int] = (0, 0)
        self.dropped_frames = 0
        self.invalid_boxes = 0
        self._set_version(config.version)
        self._compile()

    def _set_version(self, version: int) -> None:
        self.config_version = version
        self._membership.config_version = version
        self._lines.config_version = version
        self._queues.config_version = version
        self._heat.config_version = version

    def _compile(self) -> None:
        self._zone_pos = {z.id: i for i, z in enumerate(self._membership.zones)}
        self._has_zones = bool(self._membership.zones)
        self._has_lines = bool(self._lines.lines)

    @property
    def track_ids(self) -> tuple[int, ...]:
        return tuple(self._tracks)

    def occupancy(self, zone_id: str) -> int:
        """Tracks confirmed inside the zone now (0 for an unknown zone)."""
        pos = self._zone_pos.get(zone_id)
        return 0 if pos is None else self._membership.counts[pos]

    # --- inputs -------------------------------------------------------------------

    def process(self, frame: TrackedFrame) -> list[EngineEvent]:
        """All events one frame causes, in a deterministic order: per track (input order)
        its zone and line events, then occupancy changes, then periodic work."""
        out: list[EngineEvent] = []
        at = frame.at
        t = at.timestamp()
        last = self._last_t
        if last is not None and t < last:
            self.dropped_frames += 1
            return out
        max_gap = self.settings.heatmap_max_gap_s
        frame_dt = 0.0 if last is None else min(t - last, max_gap)
        self._last_t = t
        self._last_at = at
        heat = self._heat
        heat.roll(t, at, out)
        width, height = frame.width, frame.height
        if (width, height) != self._size:
            self._size = (width, height)
            if self._lines.prepare(width, height):
                for track in self._tracks.values():
                    track.lines = self._lines.new_states()
        inv_w = 1.0 / width
        inv_h = 1.0 / height
        tracks = self._tracks
        visits = self._visits
        membership = self._membership
        lookup = membership.index.lookup
        lines = self._lines
        has_zones = self._has_zones
        has_lines = self._has_lines
        samples = heat.samples
        seconds = heat.seconds
        flow_x = heat.flow_x
        flow_y = heat.flow_y
        flow_n = heat.flow_n
        cols = heat.cols
        rows = heat.rows
        zone_events = False
        for box in frame.tracks:
            x1, y1, x2, y2 = box.xyxy
            # float(): numpy scalars in a box would make every later operation ~10x slower
            fx = float((x1 + x2) * 0.5)
            fy = float(y2)
            box_h = fy - float(y1)
            if not (-1e7 < fx < 1e7 and -1e7 < fy < 1e7 and 0.0 <= box_h < 1e7):
                self.invalid_boxes += 1  # NaN, infinite or upside-down: not a person
                continue
            nx = fx * inv_w
            ny = fy * inv_h
            tid = box.track_id
            known = tracks.get(tid)
            if known is None:
                track = _Track(tid, box.visit_id, box.customer_id, lines.new_states())
                tracks[tid] = track
                if visits is not None:
                    visits.track_seen(self.camera_id, tid, box.visit_id, box.customer_id, t)
            else:
                track = known
                if (box.visit_id is not None and box.visit_id != track.visit_id) or (
                    box.customer_id is not None and box.customer_id != track.customer_id
                ):
                    track.visit_id = box.visit_id or track.visit_id
                    track.customer_id = box.customer_id or track.customer_id
                    if visits is not None:
                        visits.track_seen(self.camera_id, tid, box.visit_id, box.customer_id, t)
            if has_zones:
                zstate = track.zones
                raw = lookup(nx, ny)
                if raw != zstate.inside or zstate.pending:
                    n0 = len(out)
                    membership.observe(tid, track.visit_id, zstate, raw, t, at, out)
                    if len(out) != n0:
                        zone_events = True
                        if visits is not None:
                            self._forward(out, n0)
            if has_lines:
                n0 = len(out)
                lines.observe(
                    tid,
                    track.visit_id,
                    track.lines,
                    fx,
                    fy,
                    box_h,
                    track.fx,
                    track.fy,
                    track.last_t,
                    t,
                    at,
                    out,
                )
                if visits is not None and len(out) != n0:
                    self._forward(out, n0)
            # heatmap cell, clamped onto the frame (inlined: this runs per track per frame)
            cx = int(nx * cols)
            if cx < 0:
                cx = 0
            elif cx >= cols:
                cx = cols - 1
            cy = int(ny * rows)
            if cy < 0:
                cy = 0
            elif cy >= rows:
                cy = rows - 1
            cell = cy * cols + cx
            samples[cell] += 1
            seconds[cell] += frame_dt
            dt = t - track.last_t
            if 0.0 < dt <= max_gap:
                flow_x[cell] += (nx - track.nx) / dt
                flow_y[cell] += (ny - track.ny) / dt
                flow_n[cell] += 1
            track.last_t = t
            track.nx = nx
            track.ny = ny
            track.fx = fx
            track.fy = fy
            track.box_h = box_h
        if zone_events:
            membership.flush_occupancy(at, out)
            if self._queues.active:
                self._queues.on_events(out)
        if self._next_tick is None or t >= self._next_tick:
            self._next_tick = (math.floor(t / _TICK_S) + 1) * _TICK_S
            self._tick(t, at, out)
        return out

    def _forward(self, events: Sequence[EngineEvent], start: int) -> None:
        """Hand zone stays and store-entry crossings to the visit tracker."""
        visits = self._visits
        if visits is None:
            return
        zones = self._membership.zones
        for i in range(start, len(events)):
            event = events[i]
            if isinstance(event, ZoneEntered):
                info = zones[self._zone_pos[event.zone_id]]
                visits.zone_entered(
                    self.camera_id,
                    event.track_id,
                    event.zone_id,
                    info.kind,
                    info.area,
                    event.entered_at.timestamp(),
                )
            elif isinstance(event, ZoneExited):
                visits.zone_exited(
                    self.camera_id, event.track_id, event.zone_id, event.exited_at.timestamp()
                )
            elif isinstance(event, LineCrossed) and event.counts_store_entry:
                visits.crossed(
                    self.camera_id, event.track_id, event.direction, event.crossed_at.timestamp()
                )

    def _tick(self, t: float, at: datetime, out: list[EngineEvent]) -> None:
        """Once per second of frame time: dwell thresholds, queues, track timeouts."""
        if self._membership.threshold_mask:
            self._membership.check_dwell(
                [(tid, tr.visit_id, tr.zones) for tid, tr in self._tracks.items()], t, at, out
            )
        if self._queues.active:
            self._queues.tick(t, at, self.occupancy, out)
        timeout = self.settings.track_timeout_s
        stale = [tid for tid, tr in self._tracks.items() if t - tr.last_t >= timeout]
        for tid in stale:
            out.extend(self.end_track(tid, at, reason="timeout"))

    def end_track(
        self, track_id: int, at: datetime, reason: ExitReason = "track_ended"
    ) -> list[EngineEvent]:
        """Close the track's stays at its last sighting and drop its state."""
        track = self._tracks.pop(track_id, None)
        out: list[EngineEvent] = []
        if track is None:
            return out
        if self._has_lines:
            self._lines.close_track(track_id, track.visit_id, track.lines, track.box_h, at, out)
            if self._visits is not None and out:
                self._forward(out, 0)
        if track.zones.inside:
            n0 = len(out)
            self._membership.close_track(
                track_id, track.visit_id, track.zones, track.last_t, reason, at, out
            )
            self._forward(out, n0)
            self._membership.flush_occupancy(at, out)
            if self._queues.active:
                self._queues.on_events(out)
        if self._queues.active:
            self._queues.track_ended(track_id)
        if self._visits is not None:
            self._visits.track_ended(self.camera_id, track_id, track.last_t)
        return out

    def end_all(self, at: datetime) -> list[EngineEvent]:
        """End every live track (end of a replay) and emit the open heatmap minute."""
        out: list[EngineEvent] = []
        for tid in list(self._tracks):
            out.extend(self.end_track(tid, at))
        self._heat.emit(at, out)
        return out

    def apply_config(self, config: StoreAnalyticsConfig) -> list[EngineEvent]:
        """Switch this camera to a new configuration (see the module docstring)."""
        out: list[EngineEvent] = []
        self._set_version(config.version)
        infos, polygons, queues = _zone_setup(config, self.camera_id)
        at = self._last_at
        t = self._last_t
        items = [(tid, tr.visit_id, tr.zones) for tid, tr in self._tracks.items()]
        if at is not None and t is not None:
            self._membership.reconfigure(infos, polygons, items, t, at, out)
            self._forward(out, 0)
        else:
            self._membership.reconfigure(infos, polygons, items, 0.0, to_datetime(0.0), out)
        self._lines.reconfigure(
            _line_setup(config, self.camera_id), [tr.lines for tr in self._tracks.values()]
        )
        self._queues.reconfigure(queues)
        if out and self._queues.active:
            self._queues.on_events(out)
        self._compile()
        return out

    # --- durable state ------------------------------------------------------------

    def to_json(self) -> dict[str, JsonValue]:
        line_ids = [ln.id for ln in self._lines.lines]
        tracks: list[JsonValue] = []
        for tid, tr in self._tracks.items():
            tracks.append(
                {
                    "id": tid,
                    "visit_id": tr.visit_id,
                    "customer_id": tr.customer_id,
                    "last_t": tr.last_t,
                    "nx": tr.nx,
                    "ny": tr.ny,
                    "fx": tr.fx,
                    "fy": tr.fy,
                    "box_h": tr.box_h,
                    "zones": self._membership.state_of(tr.zones),
                    "lines": {
                        lid: st.to_json() for lid, st in zip(line_ids, tr.lines, strict=True)
                    },
                }
            )
        return {
            "camera_id": self.camera_id,
            "last_t": self._last_t,
            "next_tick": self._next_tick,
            "size": [self._size[0], self._size[1]],
            "dropped_frames": self.dropped_frames,
            "tracks": tracks,
            "counts": self._membership.counts_state(),
            "heatmap": self._heat.to_json(),
            "queues": self._queues.to_json(),
            "line_counter": self._lines.to_json(),
        }

    def load(self, data: dict[str, JsonValue]) -> None:
        """Restore `to_json` output into a camera built with the same configuration."""
        last_t = data["last_t"]
        next_tick = data["next_tick"]
        size = data["size"]
        dropped = data["dropped_frames"]
        assert last_t is None or isinstance(last_t, int | float)
        assert next_tick is None or isinstance(next_tick, int | float)
        assert isinstance(size, list) and isinstance(dropped, int)
        self._last_t = None if last_t is None else float(last_t)
        self._last_at = None if last_t is None else to_datetime(float(last_t))
        self._next_tick = None if next_tick is None else float(next_tick)
        width, height = size
        assert isinstance(width, int) and isinstance(height, int)
        self._size = (width, height)
        if width > 0 and height > 0:
            self._lines.prepare(width, height)
        self.dropped_frames = dropped
        self._tracks = {}
        tracks = data["tracks"]
        assert isinstance(tracks, list)
        for raw in tracks:
            assert isinstance(raw, dict)
            tid, visit_id, customer_id = raw["id"], raw["visit_id"], raw["customer_id"]
            assert isinstance(tid, int)
            assert visit_id is None or isinstance(visit_id, str)
            assert customer_id is None or isinstance(customer_id, str)
            lines = raw["lines"]
            zones = raw["zones"]
            assert isinstance(lines, dict) and isinstance(zones, dict)
            states = []
            for line in self._lines.lines:
                saved = lines.get(line.id)
                states.append(
                    LineState.from_json(saved) if isinstance(saved, list) else LineState()
                )
            track = _Track(tid, visit_id, customer_id, states)
            track.zones = self._membership.load_track(zones)
            for name in ("last_t", "nx", "ny", "fx", "fy", "box_h"):
                value = raw[name]
                assert isinstance(value, int | float)
                setattr(track, name, float(value))
            self._tracks[tid] = track
        counts = data["counts"]
        heatmap = data["heatmap"]
        queues = data["queues"]
        assert isinstance(counts, dict) and isinstance(heatmap, dict) and isinstance(queues, dict)
        self._membership.load_counts(counts)
        self._heat.load(heatmap)
        self._queues.load(queues)
        self._lines.load(data.get("line_counter"))  # absent from older snapshots


class StoreAnalytics:
    """All cameras of one store, the store's visits, physical-area occupancy and funnels.

    Configured cameras are compiled up front; any other camera is created on its first
    frame, so a camera with no zones or lines still produces heatmaps and visits.
    """

    def __init__(
        self, config: StoreAnalyticsConfig, settings: EngineSettings | None = None
    ) -> None:
        self.settings = settings if settings is not None else EngineSettings()
        self._setup(config)

    def _setup(self, config: StoreAnalyticsConfig) -> None:
        self._config = config
        self._visits = VisitTracker(self.settings.visit_timeout_s)
        self._cameras: dict[str, CameraAnalytics] = {}
        self._store_t: float | None = None
        self._next_tick: float | None = None
        self._zone_counts: dict[str, int] = {}
        self._area_counts: dict[str, int] = {}
        self._index_areas()
        self._add_configured_cameras()

    def _add_configured_cameras(self) -> None:
        """Compile every configured camera now, so the first frame does not pay for it."""
        config = self._config
        ids = [*(config.camera_ids or ()), *(z.camera_id for z in config.zones)]
        ids += [ln.camera_id for ln in config.lines]
        for camera_id in dict.fromkeys(ids):
            self.camera(camera_id)

    def _index_areas(self) -> None:
        self._area_of = {
            z.id: z.physical_area for z in self._config.zones if z.physical_area is not None
        }
        members: dict[str, list[str]] = {}
        for zone_id, area in self._area_of.items():
            members.setdefault(area, []).append(zone_id)
        self._area_members = {a: tuple(m) for a, m in members.items()}

    @property
    def config(self) -> StoreAnalyticsConfig:
        return self._config

    @property
    def open_visits(self) -> int:
        return self._visits.open_count

    def camera(self, camera_id: str) -> CameraAnalytics:
        """The camera's analytics, created on first use."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            cam = CameraAnalytics(camera_id, self._config, self.settings, self._visits)
            self._cameras[camera_id] = cam
        return cam

    # --- inputs -------------------------------------------------------------------

    def process(self, frame: TrackedFrame) -> list[EngineEvent]:
        out = self.camera(frame.camera_id).process(frame)
        self._after(out, frame.at)
        return out

    def end_track(self, camera_id: str, track_id: int, at: datetime) -> list[EngineEvent]:
        """The tracker ended a track (see `observations.TrackEnded`)."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            return []
        out = cam.end_track(track_id, at)
        self._after(out, at)
        return out

    def flush(self, at: datetime) -> list[EngineEvent]:
        """End of a replay: end every track, emit open heatmap minutes and close every
        visit (linked ones without waiting for their timeout)."""
        out: list[EngineEvent] = []
        for cam in self._cameras.values():
            out.extend(cam.end_all(at))
        self._visits.close_all()
        self._after(out, at)
        return out

    def apply_config(self, config: StoreAnalyticsConfig) -> list[EngineEvent]:
        """Switch every camera to a new configuration between two frames."""
        out: list[EngineEvent] = []
        self._config = config
        for cam in self._cameras.values():
            out.extend(cam.apply_config(config))
        self._add_configured_cameras()
        self._index_areas()
        at = max(
            (c._last_at for c in self._cameras.values() if c._last_at is not None),
            default=to_datetime(self._store_t if self._store_t is not None else 0.0),
        )
        self._zone_counts = {
            zone.id: cam.occupancy(zone.id)
            for cam in self._cameras.values()
            for zone in config.zones_of(cam.camera_id)
        }
        for area in sorted(set(self._area_counts) | set(self._area_members)):
            self._report_area(area, at, out)
        self._after(out, at, areas=False)
        return out

    def _after(self, out: list[EngineEvent], at: datetime, areas: bool = True) -> None:
        """Store-level work after a camera's events: physical-area occupancy, visit
        timeouts (once per second of store time), completed visits."""
        if areas and self._area_of:
            for i in range(len(out)):
                event = out[i]
                if isinstance(event, OccupancyChanged):
                    area = self._area_of.get(event.zone_id)
                    if area is not None:
                        self._zone_counts[event.zone_id] = event.count
                        self._report_area(area, at, out)
        t = at.timestamp()
        if self._store_t is None or t > self._store_t:
            self._store_t = t
        if self._next_tick is None or self._store_t >= self._next_tick:
            self._next_tick = (math.floor(self._store_t / _TICK_S) + 1) * _TICK_S
            self._visits.tick(self._store_t)
        completed = self._visits.take_completed()
        if completed:
            funnels = self._config.funnels
            for record in completed:
                out.append(
                    VisitEnded(
                        at=at,
                        config_version=self._config.version,
                        visit=record,
                        funnel_stages=tuple((f.id, stages_reached(f, record)) for f in funnels),
                    )
                )

    def _report_area(self, area: str, at: datetime, out: list[EngineEvent]) -> None:
        members = self._area_members.get(area, ())
        count = max((self._zone_counts.get(z, 0) for z in members), default=0)
        previous = self._area_counts.get(area, 0)
        if count != previous:
            out.append(
                AreaOccupancyChanged(
                    at=at,
                    config_version=self._config.version,
                    area=area,
                    count=count,
                    previous=previous,
                )
            )
        if members:
            self._area_counts[area] = count
        else:
            self._area_counts.pop(area, None)

    # --- durable state ------------------------------------------------------------

    def snapshot(self) -> dict[str, JsonValue]:
        """The whole engine state as JSON-able data (plain dicts, lists, numbers,
        strings), configuration included, for a durable restart."""
        return {
            "format": SNAPSHOT_FORMAT,
            "config": self._config.model_dump(mode="json"),
            "store_t": self._store_t,
            "next_tick": self._next_tick,
            "zone_counts": dict(self._zone_counts),
            "area_counts": dict(self._area_counts),
            "visits": self._visits.to_json(),
            "cameras": [cam.to_json() for cam in self._cameras.values()],
        }

    def restore(self, state: dict[str, JsonValue]) -> list[EngineEvent]:
        """Replace this engine's state with a snapshot's. The snapshot is loaded under
        the configuration it was taken with; if this engine was built with a different
        one (the configuration changed while the service was down), it is then applied
        like a live change, and the events that produces are returned."""
        if state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported analytics snapshot format {state.get('format')!r}")
        current = self._config
        raw_config = state["config"]
        assert isinstance(raw_config, dict)
        saved = StoreAnalyticsConfig.model_validate(raw_config)
        self._setup(saved)
        store_t = state["store_t"]
        next_tick = state["next_tick"]
        assert store_t is None or isinstance(store_t, int | float)
        assert next_tick is None or isinstance(next_tick, int | float)
        self._store_t = None if store_t is None else float(store_t)
        self._next_tick = None if next_tick is None else float(next_tick)
        zone_counts = state["zone_counts"]
        area_counts = state["area_counts"]
        visits = state["visits"]
        cameras = state["cameras"]
        assert isinstance(zone_counts, dict) and isinstance(area_counts, dict)
        assert isinstance(visits, dict) and isinstance(cameras, list)
        self._zone_counts = {k: v for k, v in zone_counts.items() if isinstance(v, int)}
        self._area_counts = {k: v for k, v in area_counts.items() if isinstance(v, int)}
        self._visits.load(visits)
        for raw in cameras:
            assert isinstance(raw, dict)
            camera_id = raw["camera_id"]
            assert isinstance(camera_id, str)
            self.camera(camera_id).load(raw)
        if saved != current:
            return self.apply_config(current)
        return []
