"""Line crossings (footfall) from foot-point trajectories.

The hard part is not geometry but noise: a person standing on a doorway line, or walking
along it, has a foot point that flips sides with every detector box. A crossing is
therefore committed only when the track is *clearly* on the other side:

1. Each track has a committed side per line: the side it was first seen on, however
   close to the line. Tracks are born near lines all the time (a door is where people
   appear), and someone first seen just outside a door who walks in has entered; a
   person first seen standing on the line cannot fake a crossing either way, because
   leaving the side they were assigned still takes steps 2 and 3.
2. A crossing is committed after `min_crossing_frames` consecutive observations on the
   other side *and* at least a dead band away from the line; any observation short of
   that (back on the committed side, or on the new side but still within the band)
   restarts the count. The band is the larger of `crossing_band_box_heights` x the
   person's box height and `min_crossing_displacement` x the frame height: detector
   jitter is proportional to the box, so near and far people get the same protection,
   and the floor covers tiny boxes.
3. So a person standing on the line, or just past it, never gets counted by jitter: a
   single outlier is not enough, it takes K in a row a full band out (at the defaults,
   about 5 standard deviations of a 3 % box jitter, three times running), while a
   walker commits a fraction of a second after the line.
4. The crossing must pass through the segment itself (within `crossing_segment_margin`
   of its length beyond either end): someone walking around the end of a line drawn
   across half an aisle has not crossed it. Where it crossed is where the trajectory last
   changed sides before the commit, interpolated between the two observations.

A committed crossing flips the committed side, so a track counts once per direction
change: in, then out, then in again, never "in" twice in a row. Geometry runs in pixels
(the line is scaled to the frame once per frame size) so distances are isotropic.
Observations missing from a frame (missed detections) neither advance nor reset
anything; the crossing point is interpolated across the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from analytics.engine.events import EngineEvent, JsonValue, LineCrossed
from analytics.engine.zones import to_datetime


@dataclass(frozen=True, slots=True)
class LineInfo:
    """A line as the hot path needs it (normalized endpoints, in side as a sign)."""

    id: str
    a: tuple[float, float]
    b: tuple[float, float]
    in_sign: int  # +1: "right" of a -> b is in, -1: "left" is in (see geometry.segment_side)
    counts_store_entry: bool


class LineState:
    """One track's progress across one line."""

    __slots__ = ("cross_t", "cross_u", "pending", "prev_d", "side")

    def __init__(self) -> None:
        self.side = 0  # committed side: +1 right, -1 left, 0 not seen yet
        self.pending = 0  # consecutive observations on the other side, beyond the band
        self.prev_d = 0.0  # signed pixel distance at the last observation (+ = right)
        self.cross_u: float | None = None  # where along a -> b it last changed sides
        self.cross_t = 0.0  # when (interpolated frame time)

    def to_json(self) -> list[JsonValue]:
        return [self.side, self.pending, self.prev_d, self.cross_u, self.cross_t]

    @classmethod
    def from_json(cls, data: Sequence[JsonValue]) -> LineState:
        side, pending, prev_d, cross_u, cross_t = data
        state = cls()
        assert isinstance(side, int) and isinstance(pending, int)
        assert isinstance(prev_d, int | float) and isinstance(cross_t, int | float)
        assert cross_u is None or isinstance(cross_u, int | float)
        state.side = side
        state.pending = pending
        state.prev_d = float(prev_d)
        state.cross_u = None if cross_u is None else float(cross_u)
        state.cross_t = float(cross_t)
        return state


# Per line in pixels: (ax, ay, unit direction x, unit direction y, index)
_Prepared = tuple[float, float, float, float, int]


class LineCounter:
    """Crossing detection for all lines of one camera."""

    def __init__(
        self,
        camera_id: str,
        lines: Sequence[LineInfo],
        min_crossing_frames: int,
        min_crossing_displacement: float,
        crossing_band_box_heights: float,
        crossing_segment_margin: float,
    ) -> None:
        self.camera_id = camera_id
        self.lines = tuple(lines)
        self.min_frames = min_crossing_frames
        self.min_displacement = min_crossing_displacement
        self.band_heights = crossing_band_box_heights
        self.margin = crossing_segment_margin
        self.config_version = 0
        self._size: tuple[int, int] = (0, 0)
        self._prepared: tuple[_Prepared, ...] = ()
        self._inv_length: tuple[float, ...] = ()
        self._floor_px = 0.0

    def prepare(self, width: int, height: int) -> bool:
        """Scale the lines to this frame size; True when the size changed (then every
        track's line state must be reset: old pixel distances mean nothing any more)."""
        if (width, height) == self._size:
            return False
        changed = self._size != (0, 0)
        self._size = (width, height)
        self._floor_px = self.min_displacement * height
        prepared = []
        inv_length = []
        for i, line in enumerate(self.lines):
            ax, ay = line.a[0] * width, line.a[1] * height
            dx, dy = line.b[0] * width - ax, line.b[1] * height - ay
            length = (dx * dx + dy * dy) ** 0.5
            prepared.append((ax, ay, dx / length, dy / length, i))
            inv_length.append(1.0 / length)
        self._prepared = tuple(prepared)
        self._inv_length = tuple(inv_length)
        return changed

    def new_states(self) -> list[LineState]:
        return [LineState() for _ in self.lines]

    def band(self, box_h: float) -> float:
        """The dead band, in pixels, for a person whose box is `box_h` pixels tall."""
        band = self.band_heights * box_h
        return band if band > self._floor_px else self._floor_px

    def observe(
        self,
        track_id: int,
        visit_id: str | None,
        states: list[LineState],
        fx: float,
        fy: float,
        box_h: float,
        prev_fx: float,
        prev_fy: float,
        prev_t: float,
        t: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """Advance every line's state with one foot point (pixels), the track's previous
        foot point and time being (prev_fx, prev_fy, prev_t); appends LineCrossed."""
        band = self.band_heights * box_h
        if band < self._floor_px:
            band = self._floor_px
        for st, (ax, ay, ux, uy, i) in zip(states, self._prepared, strict=True):
            d = (fy - ay) * ux - (fx - ax) * uy  # signed distance, + = right of a -> b
            side = st.side
            pd = st.prev_d
            st.prev_d = d
            if d >= 0.0:
                if side == 1 and pd >= 0.0:  # the common case: nothing happening
                    if st.pending:
                        st.pending = 0
                    continue
                s = 1
                changed = pd < 0.0
            else:
                if side == -1 and pd < 0.0:
                    if st.pending:
                        st.pending = 0
                    continue
                s = -1
                changed = pd >= 0.0
            if side == 0:  # first sighting: its side, however close
                st.side = s
                continue
            if changed:  # where and when the trajectory changed sides
                self._record(i, st, pd, d, fx, fy, prev_fx, prev_fy, prev_t, t)
            if s != side and (d >= band or -d >= band):
                st.pending += 1
                if st.pending >= self.min_frames:
                    self._commit(i, st, s, track_id, visit_id, at, out)
            elif st.pending:
                st.pending = 0

    def _record(
        self,
        i: int,
        st: LineState,
        pd: float,
        d: float,
        fx: float,
        fy: float,
        prev_fx: float,
        prev_fy: float,
        prev_t: float,
        t: float,
    ) -> None:
        ax, ay, ux, uy, _i = self._prepared[i]
        frac = pd / (pd - d)
        cx = prev_fx + (fx - prev_fx) * frac
        cy = prev_fy + (fy - prev_fy) * frac
        st.cross_u = ((cx - ax) * ux + (cy - ay) * uy) * self._inv_length[i]
        st.cross_t = prev_t + (t - prev_t) * frac

    def _commit(
        self,
        i: int,
        st: LineState,
        s: int,
        track_id: int,
        visit_id: str | None,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        st.side = s
        st.pending = 0
        u = st.cross_u
        if u is None or not -self.margin <= u <= 1.0 + self.margin:
            return  # went around the end of the segment: a side change, not a crossing
        line = self.lines[i]
        out.append(
            LineCrossed(
                at=at,
                config_version=self.config_version,
                camera_id=self.camera_id,
                line_id=line.id,
                track_id=track_id,
                visit_id=visit_id,
                direction="in" if s == line.in_sign else "out",
                crossed_at=to_datetime(st.cross_t),
                counts_store_entry=line.counts_store_entry,
            )
        )

    def close_track(
        self,
        track_id: int,
        visit_id: str | None,
        states: list[LineState],
        box_h: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        """A track ended: commit the crossings it was in the middle of, if its last
        observation was already beyond the dead band on the new side. People leaving
        through a door walk out of view right after the line, before
        `min_crossing_frames` observations; one observation a full band away is strong
        evidence (jitter alone reaches it with a probability of ~1e-4 per frame at the
        defaults), and it has to be the very last one."""
        band = self.band(box_h)
        for i, st in enumerate(states):
            if st.side == 0 or not st.pending:
                continue
            d = st.prev_d
            if d >= band or -d >= band:
                self._commit(i, st, 1 if d >= 0.0 else -1, track_id, visit_id, at, out)

    def reconfigure(self, lines: Sequence[LineInfo], states: Sequence[list[LineState]]) -> None:
        """Switch to a new line list. A line that kept its id and geometry keeps each
        track's progress; a new or moved line starts from scratch (a moved line under a
        standing person must not count a crossing nobody made). `states` are the tracks'
        lists, rewritten in place."""
        old = {line.id: (i, line) for i, line in enumerate(self.lines)}
        plan: list[int | None] = []
        for line in lines:
            previous = old.get(line.id)
            same = previous is not None and (previous[1].a, previous[1].b) == (line.a, line.b)
            plan.append(previous[0] if same and previous is not None else None)
        for track_states in states:
            kept = [track_states[i] if i is not None else LineState() for i in plan]
            track_states[:] = kept
        self.lines = tuple(lines)
        size = self._size
        self._size = (0, 0)
        if size != (0, 0):
            self.prepare(*size)
