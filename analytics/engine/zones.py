"""Zone membership per track with hysteresis, stays (dwell) and occupancy.

Why hysteresis: a foot point standing near a zone's edge jitters in and out of it with
every detector box; counting each flicker as a visit would multiply entries and cut
dwell into slivers. A track therefore *enters* a zone after `min_frames_inside`
consecutive observations inside it and *leaves* after `min_frames_outside` consecutive
observations outside. Frames on which the track is not observed (missed detections)
count neither way. Both transitions are back-dated to the first observation of the run
that confirmed them, so the confirmation delay shifts when the event is emitted, not the
dwell it reports.

Why a lookup grid: the hot path tests every track of every frame against every zone of
its camera. `ZoneIndex` rasterizes the zones once into a 128 x 128 grid over the frame:
cells no zone edge passes through know their zones outright (a bitmask), and only the
cells an edge crosses run the exact crossing-number test, for just the zones whose edge
it is. A track in the middle of a zone, or far from all of them, costs one list index.

Membership is a bitmask per track (bit i = the camera's i-th zone), which is why a
camera has at most 32 zones; comparing two ints tells whether anything changed.
Dwell thresholds are checked by the engine once per second of frame time, so a
DwellThresholdExceeded event comes at most a second after the threshold passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from analytics.engine.events import (
    DwellThresholdExceeded,
    EngineEvent,
    ExitReason,
    JsonValue,
    OccupancyChanged,
    ZoneEntered,
    ZoneExited,
)
from analytics.engine.geometry import (
    Edge,
    Point,
    point_in_polygon,
    points_in_polygon,
    prepare_edges,
)

GRID = 128
_CLAMP_HI = 1.0 - 1e-9  # keeps a foot point on the frame's last row/column of cells


def to_datetime(t: float) -> datetime:
    """Frame time (POSIX seconds, as the engine keeps it) back to an aware UTC datetime."""
    return datetime.fromtimestamp(t, tz=UTC)


def _edge_cells(polygon: NDArray[np.float64], grid: int) -> NDArray[np.bool_]:
    """Cells any edge of the polygon touches, found exactly: a cell (in the edge's
    bounding box) is touched unless all four of its corners lie strictly on the same
    side of the edge's line. Corners within a hair of the line count as touching, so the
    marking errs on the safe side (being marked only costs an exact test)."""
    marked = np.zeros((grid, grid), dtype=np.bool_)
    coords = np.arange(grid + 1, dtype=np.float64) / grid
    nxt = np.roll(polygon, -1, axis=0)
    for (x0, y0), (x1, y1) in zip(polygon.tolist(), nxt.tolist(), strict=True):
        ix0, ix1 = (min(max(int(v * grid), 0), grid - 1) for v in sorted((x0, x1)))
        iy0, iy1 = (min(max(int(v * grid), 0), grid - 1) for v in sorted((y0, y1)))
        xs = coords[ix0 : ix1 + 2][None, :]
        ys = coords[iy0 : iy1 + 2][:, None]
        side = (x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0)  # corner values
        pos = side > 1e-12
        neg = side < -1e-12
        all_pos = pos[:-1, :-1] & pos[:-1, 1:] & pos[1:, :-1] & pos[1:, 1:]
        all_neg = neg[:-1, :-1] & neg[:-1, 1:] & neg[1:, :-1] & neg[1:, 1:]
        marked[iy0 : iy1 + 1, ix0 : ix1 + 1] |= ~(all_pos | all_neg)
    flat: NDArray[np.bool_] = marked.reshape(-1)
    return flat


class ZoneIndex:
    """Which of a camera's zones contain a normalized point, as a bitmask."""

    __slots__ = ("_boundary", "_edges", "_grid", "_inside", "count")

    def __init__(self, polygons: Sequence[Sequence[Point]], grid: int = GRID) -> None:
        if len(polygons) > 63:
            raise ValueError("at most 63 zones per index")
        self.count = len(polygons)
        self._grid = grid
        self._edges: tuple[tuple[Edge, ...], ...] = tuple(prepare_edges(p) for p in polygons)
        centres = (np.arange(grid, dtype=np.float64) + 0.5) / grid
        cx, cy = np.meshgrid(centres, centres)  # row = y cell, column = x cell
        points = np.stack([cx.reshape(-1), cy.reshape(-1)], axis=1)
        inside = np.zeros(grid * grid, dtype=np.int64)
        boundary: list[list[tuple[int, tuple[Edge, ...]]]] = [[] for _ in range(grid * grid)]
        for z, polygon in enumerate(polygons):
            vertices = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
            edge_cells = _edge_cells(vertices, grid)
            centre_inside = points_in_polygon(points, vertices)
            inside[centre_inside & ~edge_cells] |= np.int64(1 << z)
            for cell in np.flatnonzero(edge_cells).tolist():
                boundary[cell].append((z, self._edges[z]))
        self._inside: list[int] = [int(v) for v in inside.tolist()]
        self._boundary: tuple[tuple[tuple[int, tuple[Edge, ...]], ...], ...] = tuple(
            tuple(b) for b in boundary
        )

    def lookup(self, x: float, y: float) -> int:
        """Bitmask of the zones containing (x, y); points outside the frame are clamped
        onto its border first (a box cut by the frame edge stands at that edge)."""
        if x < 0.0:
            x = 0.0
        elif x > _CLAMP_HI:
            x = _CLAMP_HI
        if y < 0.0:
            y = 0.0
        elif y > _CLAMP_HI:
            y = _CLAMP_HI
        g = self._grid
        cell = int(y * g) * g + int(x * g)
        mask = self._inside[cell]
        for z, edges in self._boundary[cell]:
            if point_in_polygon(x, y, edges):
                mask |= 1 << z
        return mask

    def exact(self, x: float, y: float) -> int:
        """`lookup` without the grid: every zone tested exactly (for tests)."""
        x = min(max(x, 0.0), _CLAMP_HI)
        y = min(max(y, 0.0), _CLAMP_HI)
        mask = 0
        for z, edges in enumerate(self._edges):
            if point_in_polygon(x, y, edges):
                mask |= 1 << z
        return mask


class TrackZones:
    """One track's zone state: confirmed membership, open stays, pending transitions."""

    __slots__ = ("alerted", "entered", "inside", "pending")

    def __init__(self) -> None:
        self.inside = 0  # bitmask of zones the track is confirmed inside
        self.entered: dict[int, float] = {}  # zone -> back-dated entry time of the open stay
        # zone -> (consecutive observations disagreeing with `inside`, time of the first)
        self.pending: dict[int, tuple[int, float]] = {}
        self.alerted = 0  # zones whose dwell threshold this stay already reported


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """What the hot path needs of a zone definition (no pydantic access per frame)."""

    id: str
    kind: str
    area: str
    capacity: int | None
    dwell_threshold_s: float | None


class ZoneMembership:
    """Zone membership, stays and occupancy of all tracks of one camera."""

    def __init__(
        self,
        camera_id: str,
        zones: Sequence[ZoneInfo],
        polygons: Sequence[Sequence[Point]],
        min_frames_inside: int,
        min_frames_outside: int,
    ) -> None:
        self.camera_id = camera_id
        self.min_inside = min_frames_inside
        self.min_outside = min_frames_outside
        self.config_version = 0
        self._set_zones(zones, polygons)
        self.counts: list[int] = [0] * len(zones)
        self._reported: list[int] = [0] * len(zones)
        self._dirty: set[int] = set()

    def _set_zones(self, zones: Sequence[ZoneInfo], polygons: Sequence[Sequence[Point]]) -> None:
        self.zones = tuple(zones)
        self.index = ZoneIndex(polygons)
        self.threshold_mask = 0
        for z, info in enumerate(self.zones):
            if info.dwell_threshold_s is not None:
                self.threshold_mask |= 1 << z

    # --- per observation -------------------------------------------------------------

    def observe(
        self,
        track_id: int,
        visit_id: str | None,
        state: TrackZones,
        raw: int,
        t: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """Feed one observation (`raw`: zones the foot point is in now) through the
        hysteresis; appends ZoneEntered / ZoneExited for transitions it confirms."""
        inside = state.inside
        pending = state.pending
        if raw == inside and not pending:
            return
        diff = raw ^ inside
        if pending:
            for z in [z for z in pending if not (diff >> z) & 1]:
                del pending[z]  # back to the confirmed state: the run is broken
        while diff:
            low = diff & -diff
            diff ^= low
            z = low.bit_length() - 1
            count, first = pending.get(z, (0, t))
            count += 1
            entering = bool(raw & low)
            if count < (self.min_inside if entering else self.min_outside):
                pending[z] = (count, first)
                continue
            pending.pop(z, None)
            info = self.zones[z]
            if entering:
                state.inside |= low
                state.entered[z] = first
                self.counts[z] += 1
                self._dirty.add(z)
                out.append(
                    ZoneEntered(
                        at=at,
                        config_version=self.config_version,
                        camera_id=self.camera_id,
                        zone_id=info.id,
                        track_id=track_id,
                        visit_id=visit_id,
                        entered_at=to_datetime(first),
                    )
                )
            else:
                self._close(track_id, visit_id, state, z, first, "exited", at, out)

    def _close(
        self,
        track_id: int,
        visit_id: str | None,
        state: TrackZones,
        z: int,
        exited: float,
        reason: ExitReason,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        bit = 1 << z
        state.inside &= ~bit
        state.alerted &= ~bit
        entered = state.entered.pop(z)
        exited = max(exited, entered)
        self.counts[z] -= 1
        self._dirty.add(z)
        out.append(
            ZoneExited(
                at=at,
                config_version=self.config_version,
                camera_id=self.camera_id,
                zone_id=self.zones[z].id,
                track_id=track_id,
                visit_id=visit_id,
                entered_at=to_datetime(entered),
                exited_at=to_datetime(exited),
                dwell_s=exited - entered,
                reason=reason,
            )
        )

    def close_track(
        self,
        track_id: int,
        visit_id: str | None,
        state: TrackZones,
        last_seen: float,
        reason: ExitReason,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """Close every open stay of a track that ended: at its last sighting, or at the
        start of the run of outside observations it was already leaving on."""
        mask = state.inside
        while mask:
            low = mask & -mask
            mask ^= low
            z = low.bit_length() - 1
            pending = state.pending.get(z)
            exited = pending[1] if pending is not None else last_seen
            self._close(track_id, visit_id, state, z, exited, reason, at, out)
        state.pending.clear()

    def flush_occupancy(self, at: datetime, out: list[EngineEvent]) -> None:
        """OccupancyChanged for each zone whose count differs from the last one reported
        (once per frame, so an entry and an exit in the same frame report nothing)."""
        if not self._dirty:
            return
        for z in sorted(self._dirty):
            count = self.counts[z]
            previous = self._reported[z]
            if count != previous:
                self._reported[z] = count
                info = self.zones[z]
                out.append(
                    OccupancyChanged(
                        at=at,
                        config_version=self.config_version,
                        camera_id=self.camera_id,
                        zone_id=info.id,
                        count=count,
                        previous=previous,
                        capacity=info.capacity,
                        over_capacity=info.capacity is not None and count > info.capacity,
                    )
                )
        self._dirty.clear()

    def check_dwell(
        self,
        tracks: Iterable[tuple[int, str | None, TrackZones]],
        t: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """DwellThresholdExceeded, once per stay, for stays past their zone's threshold."""
        thresholds = self.threshold_mask
        if not thresholds:
            return
        for track_id, visit_id, state in tracks:
            candidates = state.inside & thresholds & ~state.alerted
            while candidates:
                low = candidates & -candidates
                candidates ^= low
                z = low.bit_length() - 1
                info = self.zones[z]
                limit = info.dwell_threshold_s
                entered = state.entered[z]
                if limit is not None and t - entered >= limit:
                    state.alerted |= low
                    out.append(
                        DwellThresholdExceeded(
                            at=at,
                            config_version=self.config_version,
                            camera_id=self.camera_id,
                            zone_id=info.id,
                            track_id=track_id,
                            visit_id=visit_id,
                            entered_at=to_datetime(entered),
                            dwell_s=t - entered,
                            threshold_s=limit,
                        )
                    )

    # --- configuration changes ----------------------------------------------------------

    def reconfigure(
        self,
        zones: Sequence[ZoneInfo],
        polygons: Sequence[Sequence[Point]],
        tracks: Sequence[tuple[int, str | None, TrackZones]],
        t: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """Switch to a new zone list. Stays in zones that still exist (same id) carry on,
        even if the polygon moved: the hysteresis re-decides from the next frame. Stays in
        removed zones close now (reason 'zone_removed'), and the removed zone's occupancy
        is reported as 0 so no dashboard keeps a stale count."""
        old_ids = [z.id for z in self.zones]
        new_pos = {info.id: i for i, info in enumerate(zones)}
        for track_id, visit_id, state in tracks:
            mask = state.inside
            while mask:
                low = mask & -mask
                mask ^= low
                z = low.bit_length() - 1
                if old_ids[z] not in new_pos:
                    self._close(track_id, visit_id, state, z, t, "zone_removed", at, out)
        self.flush_occupancy(at, out)
        for z, zone_id in enumerate(old_ids):
            if zone_id not in new_pos and self._reported[z]:
                out.append(
                    OccupancyChanged(
                        at=at,
                        config_version=self.config_version,
                        camera_id=self.camera_id,
                        zone_id=zone_id,
                        count=0,
                        previous=self._reported[z],
                        capacity=self.zones[z].capacity,
                        over_capacity=False,
                    )
                )
        remap = {z: new_pos[zone_id] for z, zone_id in enumerate(old_ids) if zone_id in new_pos}
        counts = [0] * len(zones)
        reported = [0] * len(zones)
        for old, new in remap.items():
            counts[new] = self.counts[old]
            reported[new] = self._reported[old]
        self.counts = counts
        self._reported = reported
        self._dirty = set()
        for _track_id, _visit_id, state in tracks:
            _remap_state(state, remap)
        self._set_zones(zones, polygons)

    # --- durable state ----------------------------------------------------------------

    def state_of(self, state: TrackZones) -> dict[str, JsonValue]:
        ids = [z.id for z in self.zones]
        return {
            "entered": {ids[z]: t for z, t in state.entered.items()},
            "pending": {ids[z]: [c, f] for z, (c, f) in state.pending.items()},
            "alerted": [ids[z] for z in range(len(ids)) if state.alerted >> z & 1],
        }

    def load_track(self, data: dict[str, JsonValue]) -> TrackZones:
        pos = {z.id: i for i, z in enumerate(self.zones)}
        state = TrackZones()
        entered = data["entered"]
        pending = data["pending"]
        alerted = data["alerted"]
        assert isinstance(entered, dict) and isinstance(pending, dict)
        assert isinstance(alerted, list)
        for zone_id, t in entered.items():
            assert isinstance(t, int | float)
            z = pos[zone_id]
            state.entered[z] = float(t)
            state.inside |= 1 << z
        for zone_id, value in pending.items():
            assert isinstance(value, list)
            count, first = value
            assert isinstance(count, int) and isinstance(first, int | float)
            state.pending[pos[zone_id]] = (count, float(first))
        for alerted_id in alerted:
            assert isinstance(alerted_id, str)
            state.alerted |= 1 << pos[alerted_id]
        return state

    def counts_state(self) -> dict[str, JsonValue]:
        return {z.id: [self.counts[i], self._reported[i]] for i, z in enumerate(self.zones)}

    def load_counts(self, data: dict[str, JsonValue]) -> None:
        for i, z in enumerate(self.zones):
            value = data.get(z.id)
            if isinstance(value, list):
                count, reported = value
                assert isinstance(count, int) and isinstance(reported, int)
                self.counts[i] = count
                self._reported[i] = reported


def _remap_state(state: TrackZones, remap: dict[int, int]) -> None:
    inside = 0
    alerted = 0
    entered: dict[int, float] = {}
    pending: dict[int, tuple[int, float]] = {}
    for old, t in state.entered.items():
        new = remap[old]
        entered[new] = t
        inside |= 1 << new
        if state.alerted >> old & 1:
            alerted |= 1 << new
    for old, value in state.pending.items():
        if old in remap:
            pending[remap[old]] = value
    state.inside = inside
    state.alerted = alerted
    state.entered = entered
    state.pending = pending
