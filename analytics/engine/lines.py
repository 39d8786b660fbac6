"""Line crossings (footfall) from foot-point trajectories.

The hard part is not geometry but noise: a person standing on a doorway line, or walking
along it, has a foot point that flips sides with every detector box. A crossing is
therefore committed only when the track is *clearly* on the other side:

1. Each track has a committed side per line: the side it was first seen on, once it is
   seen at least a third of the dead band (step 2) away from the line. Tracks are born
   near lines all the time (a door is where people appear), and someone first seen just
   outside a door who walks in has entered; but a first sighting closer than that is a
   coin flip under detector jitter (a third of the band is about 3 standard deviations
   of the foot point at a 2 % box jitter), so the side stays undecided until the track
   is seen clearly on one side, and no crossing is counted from it: a tracker that
   confirmed the person a frame later, or a jittered first box, must not decide whether
   a crossing happened. A person first seen standing on the line cannot fake a crossing
   either way, because leaving the side they were assigned still takes steps 2 and 3.
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

5. One person, one crossing: when a tracker follows one person with two tracks in turn
   (a lost track re-acquires the person while a newer track also follows them, the two
   alternating frame by frame), both would cross. A crossing is therefore dropped as a
   duplicate when another track crossed the same line in the same direction less than
   `DUPLICATE_WINDOW_S` before or after it, within `DUPLICATE_DISTANCE_BOX_HEIGHTS` box
   heights along the line, and the two tracks were not observed in the same frame
   around the crossings (up to `COVISIBLE_WINDOW_S` after the later one). Two people
   walking through together are seen together; one person carried by two tracks is
   not (a tracker gives each detection one track).

6. Stitching: a person hidden for longer than the tracker's buffer comes back as a new
   track, often on the far side of a line they crossed while hidden, and a track's first
   sighting would place them there as if they had always been. So a new track first
   seen within `STITCH_MAX_GAP_S` of another track's last sighting, near where that one
   was heading (its smoothed foot-point velocity times the gap, within
   `STITCH_RADIUS_BOX_HEIGHTS` plus `STITCH_RADIUS_GROWTH_PER_S` per second box heights,
   boxes of similar height), takes over that track's committed sides; a line between
   the two sightings then counts as crossed (by the new track, at the interpolated
   point). The lost track gives its sides up: if it comes back it starts undecided, and
   its end commits nothing. A track missing fewer than two frames is live, never a
   candidate. Only line sides move across; zones and visits stay per track.

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
from typing import Final

from analytics.engine.events import EngineEvent, JsonValue, LineCrossed
from analytics.engine.zones import to_datetime

# A first sighting within this share of the dead band leaves the side undecided (step 1).
BIRTH_BAND_FRACTION: Final = 1.0 / 3.0
# Duplicate crossings (step 5): two tracks of one person cross within a frame or two of each
# other at the same spot; people walking through a door one after the other are further
# apart in time than this, or seen together.
DUPLICATE_WINDOW_S: Final = 0.15
DUPLICATE_DISTANCE_BOX_HEIGHTS: Final = 0.5
# ... and were not seen in one frame up to this long after the later crossing (this covers
# the commit delay, during which two real people walking together are seen together).
COVISIBLE_WINDOW_S: Final = 1.0
# Stitching (step 6): a track first seen within this long after another track was last
# seen, near where that one was heading, carries on its sides of the lines.
STITCH_MAX_GAP_S: Final = 2.0
# Where the lost track was heading may be this far off: half a box height at once, plus a
# quarter per second of gap (people walk ~0.7 box heights a second; a third faster or
# slower drifts about that much).
STITCH_RADIUS_BOX_HEIGHTS: Final = 0.5
STITCH_RADIUS_GROWTH_PER_S: Final = 0.25
STITCH_HEIGHT_RATIO: Final = 0.3  # box heights within 30 % of each other
_VELOCITY_SMOOTHING: Final = 0.3  # weight of the newest foot-point velocity
# How long a committed crossing is remembered for that check (its commit comes up to a
# few frames, or a long pending run, after the crossing itself).
_RECENT_KEEP_S: Final = 3.0


class _Recent:
    """A committed crossing, remembered for the duplicate check, and the tracks seen in
    a frame together with the track that made it."""

    __slots__ = ("covisible", "line", "sign", "t", "track_id", "u_px")

    def __init__(self, line: int, sign: int, track_id: int, t: float, u_px: float) -> None:
        self.line = line
        self.sign = sign
        self.track_id = track_id
        self.t = t
        self.u_px = u_px  # where along the line, pixels from a
        # track -> frame time it was first seen together with `track_id`
        self.covisible: dict[int, float] = {}

    def to_json(self) -> list[JsonValue]:
        seen: list[JsonValue] = [[k, v] for k, v in self.covisible.items()]
        return [self.line, self.sign, self.track_id, self.t, self.u_px, seen]

    @classmethod
    def from_json(cls, data: Sequence[JsonValue]) -> _Recent:
        line, sign, track_id, t, u_px, covisible = data
        assert isinstance(line, int) and isinstance(sign, int) and isinstance(track_id, int)
        assert isinstance(t, int | float) and isinstance(u_px, int | float)
        assert isinstance(covisible, list)
        recent = cls(line, sign, track_id, float(t), float(u_px))
        for pair in covisible:
            assert isinstance(pair, list)
            other, since = pair
            assert isinstance(other, int) and isinstance(since, int | float)
            recent.covisible[other] = float(since)
        return recent


class _Seen:
    """Where and how a track was last seen, for stitching a later track onto it."""

    __slots__ = ("fx", "fy", "h", "moved", "sides", "states", "t", "vx", "vy")

    def __init__(self, t: float, fx: float, fy: float, h: float) -> None:
        self.t = t
        self.fx = fx
        self.fy = fy
        self.h = h
        self.vx = 0.0  # smoothed foot-point velocity, pixels per second
        self.vy = 0.0
        self.moved = False  # velocity measured at least once
        self.states: list[LineState] | None = None  # the track's own (live) states
        self.sides: list[int] = []  # its sides when restored from a snapshot

    def current_sides(self) -> list[int]:
        return [st.side for st in self.states] if self.states is not None else list(self.sides)

    def to_json(self) -> list[JsonValue]:
        sides: list[JsonValue] = list(self.current_sides())
        return [self.t, self.fx, self.fy, self.h, self.vx, self.vy, sides, self.moved]

    @classmethod
    def from_json(cls, data: Sequence[JsonValue]) -> _Seen:
        t, fx, fy, h, vx, vy, sides, moved = data
        for v in (t, fx, fy, h, vx, vy):
            assert isinstance(v, int | float)
        assert isinstance(t, int | float) and isinstance(fx, int | float)
        assert isinstance(fy, int | float) and isinstance(h, int | float)
        assert isinstance(vx, int | float) and isinstance(vy, int | float)
        assert isinstance(sides, list)
        seen = cls(float(t), float(fx), float(fy), float(h))
        seen.vx, seen.vy = float(vx), float(vy)
        seen.moved = bool(moved)
        seen.sides = [int(v) for v in sides if isinstance(v, int)]
        return seen


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
        # duplicate check (step 5): recent crossings, and the tracks of the current frame
        self._recent: list[_Recent] = []
        self._frame_t = -1e300
        self._frame_tracks: list[int] = []
        # stitching (step 6): tracks' last sightings, and tracks whose sides went to another
        self._seen: dict[int, _Seen] = {}
        self._absorbed: set[int] = set()
        self._frame_dt = 1e300  # shortest interval between frames seen so far
        self._next_prune = -1e300

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
        if changed:
            self._recent = []  # pixel positions along the lines mean nothing any more
            self._seen = {}  # nor the sightings (and the tracks' state lists are new)
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
        if t != self._frame_t:  # a new frame: who was seen with whom in the last one
            if self._recent:
                self._end_frame(t)
            if t >= self._next_prune:
                self._prune(t)
            if t - self._frame_t < self._frame_dt:
                self._frame_dt = t - self._frame_t
            self._frame_t = t
            self._frame_tracks = [track_id]
        else:
            self._frame_tracks.append(track_id)
        seen = self._seen.get(track_id)
        if seen is None:  # a track seen for the first time (or again, after a stitch)
            if track_id in self._absorbed:  # its sides went to another track: start over
                self._absorbed.discard(track_id)
                for st in states:
                    st.side = 0
                    st.pending = 0
            elif prev_t < -1e300:
                stitched = self._stitch(track_id, states, fx, fy, box_h, t)
                if stitched is not None:
                    prev_fx, prev_fy, prev_t = stitched.fx, stitched.fy, stitched.t
            seen = self._seen[track_id] = _Seen(t, fx, fy, box_h)
        else:
            dt = t - seen.t
            if dt > 0.0:
                w = _VELOCITY_SMOOTHING if seen.moved else 1.0
                seen.vx += w * ((fx - seen.fx) / dt - seen.vx)
                seen.vy += w * ((fy - seen.fy) / dt - seen.vy)
                seen.moved = True
            seen.t = t
            seen.fx = fx
            seen.fy = fy
            seen.h = box_h
        seen.states = states
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
            if side == 0:  # not decided yet: the first sighting clear of the line decides
                if d * s >= band * BIRTH_BAND_FRACTION:
                    st.side = s
                continue
            if changed:  # where and when the trajectory changed sides
                self._record(i, st, pd, d, fx, fy, prev_fx, prev_fy, prev_t, t)
            if s != side and (d >= band or -d >= band):
                st.pending += 1
                if st.pending >= self.min_frames:
                    self._commit(i, st, s, track_id, visit_id, box_h, at, out)
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
        box_h: float,
        at: datetime,
        out: list[EngineEvent],
    ) -> None:
        st.side = s
        st.pending = 0
        u = st.cross_u
        if u is None or not -self.margin <= u <= 1.0 + self.margin:
            return  # went around the end of the segment: a side change, not a crossing
        u_px = u / self._inv_length[i]
        if self._duplicate(i, s, track_id, st.cross_t, u_px, box_h):
            return
        self._recent.append(_Recent(i, s, track_id, st.cross_t, u_px))
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

    def _stitch(
        self, track_id: int, states: list[LineState], fx: float, fy: float, h: float, t: float
    ) -> _Seen | None:
        """A new track: take over the sides of the track it most likely continues (step
        6), if any; returns that track's last sighting."""
        best: tuple[float, int, _Seen] | None = None
        for other, seen in self._seen.items():
            gap = t - seen.t
            # missed fewer than two frames: a live track (perhaps later in this frame)
            if gap < 1.5 * self._frame_dt or gap > STITCH_MAX_GAP_S or other == track_id:
                continue
            if abs(h - seen.h) > STITCH_HEIGHT_RATIO * seen.h:
                continue
            dx = fx - (seen.fx + seen.vx * gap)
            dy = fy - (seen.fy + seen.vy * gap)
            distance = (dx * dx + dy * dy) ** 0.5
            if distance > seen.h * (STITCH_RADIUS_BOX_HEIGHTS + STITCH_RADIUS_GROWTH_PER_S * gap):
                continue
            if best is None or distance < best[0]:
                best = (distance, other, seen)
        if best is None:
            return None
        _distance, other, seen = best
        sides = seen.current_sides()
        if len(sides) != len(states) or not any(sides):
            return None
        for st, side, (ax, ay, ux, uy, _i) in zip(states, sides, self._prepared, strict=True):
            st.side = side
            st.pending = 0
            st.prev_d = (seen.fy - ay) * ux - (seen.fx - ax) * uy
        del self._seen[other]
        if seen.states is not None:
            for st in seen.states:  # should it come back, it starts undecided
                st.side = 0
                st.pending = 0
        self._absorbed.add(other)
        return seen

    def _prune(self, t: float) -> None:
        """Forget sightings too old to stitch onto (once a second of frame time)."""
        self._next_prune = t + 1.0
        old = [k for k, seen in self._seen.items() if t - seen.t > STITCH_MAX_GAP_S]
        for k in old:
            del self._seen[k]

    def _end_frame(self, t: float) -> None:
        """Close the previous frame for the duplicate check: every remembered crossing
        whose track was in it saw the others of it; forget crossings long past."""
        tracks = self._frame_tracks
        frame_t = self._frame_t
        keep = []
        for recent in self._recent:
            if t - recent.t > _RECENT_KEEP_S:
                continue
            if recent.track_id in tracks:
                seen = recent.covisible
                for other in tracks:
                    if other not in seen:
                        seen[other] = frame_t
            keep.append(recent)
        self._recent = keep

    def _duplicate(
        self, i: int, s: int, track_id: int, t: float, u_px: float, box_h: float
    ) -> bool:
        """Another track crossed here, about when this one did (`t`), the same way, and
        the two were not seen together around the crossings (step 5)? Being seen together
        only later does not count: one of them may have switched to someone else since."""
        if not self._recent:
            return False
        reach = max(DUPLICATE_DISTANCE_BOX_HEIGHTS * box_h, self._floor_px)
        frame = self._frame_tracks
        for recent in self._recent:
            if (
                recent.line != i
                or recent.sign != s
                or recent.track_id == track_id
                or abs(recent.t - t) > DUPLICATE_WINDOW_S
                or abs(recent.u_px - u_px) > reach
            ):
                continue
            until = max(recent.t, t) + COVISIBLE_WINDOW_S
            since = recent.covisible.get(track_id)
            if since is not None and since <= until:
                continue
            if self._frame_t <= until and recent.track_id in frame and track_id in frame:
                continue
            return True
        return False

    def to_json(self) -> dict[str, JsonValue]:
        """The counter's own state (recent crossings, the current frame's tracks); the
        tracks' states travel with the tracks."""
        seen: dict[str, JsonValue] = {str(k): v.to_json() for k, v in self._seen.items()}
        return {
            "frame_t": self._frame_t,
            "frame_tracks": list(self._frame_tracks),
            "recent": [r.to_json() for r in self._recent],
            "frame_dt": self._frame_dt,
            "next_prune": self._next_prune,
            "seen": seen,
            "absorbed": list[JsonValue](sorted(self._absorbed)),
        }

    def load(self, data: JsonValue) -> None:
        """Restore `to_json` output."""
        self._recent = []
        self._frame_t = -1e300
        self._frame_tracks = []
        self._seen = {}
        self._absorbed = set()
        self._frame_dt = 1e300  # shortest interval between frames seen so far
        self._next_prune = -1e300
        # A snapshot older than this format (None, or missing keys) restores nothing: the
        # counter's memory only merges fragments, so losing it costs at most one recount.
        keys = ("frame_t", "frame_tracks", "recent", "frame_dt", "next_prune", "seen", "absorbed")
        if not isinstance(data, dict) or any(key not in data for key in keys):
            return
        frame_t, frame_tracks, recent = data["frame_t"], data["frame_tracks"], data["recent"]
        assert isinstance(frame_t, int | float) and isinstance(frame_tracks, list)
        assert isinstance(recent, list)
        self._frame_t = float(frame_t)
        self._frame_tracks = [int(v) for v in frame_tracks if isinstance(v, int)]
        self._recent = [_Recent.from_json(r) for r in recent if isinstance(r, list)]
        frame_dt, next_prune = data["frame_dt"], data["next_prune"]
        seen, absorbed = data["seen"], data["absorbed"]
        assert isinstance(frame_dt, int | float) and isinstance(next_prune, int | float)
        assert isinstance(seen, dict) and isinstance(absorbed, list)
        self._frame_dt = float(frame_dt)
        self._next_prune = float(next_prune)
        self._seen = {int(k): _Seen.from_json(v) for k, v in seen.items() if isinstance(v, list)}
        self._absorbed = {int(v) for v in absorbed if isinstance(v, int)}

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
        if track_id in self._absorbed:  # its sides, and crossings, went to another track
            self._absorbed.discard(track_id)
            return
        band = self.band(box_h)
        for i, st in enumerate(states):
            if st.side == 0 or not st.pending:
                continue
            d = st.prev_d
            if d >= band or -d >= band:
                sign = 1 if d >= 0.0 else -1
                self._commit(i, st, sign, track_id, visit_id, box_h, at, out)

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
        self._recent = []  # line indices changed
        self._seen = {}
        size = self._size
        self._size = (0, 0)
        if size != (0, 0):
            self.prepare(*size)
