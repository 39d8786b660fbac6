"""Line crossings: direction convention, once per direction change, jitter immunity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analytics.engine.events import EngineEvent, LineCrossed
from analytics.engine.lines import LineCounter, LineInfo, LineState
from analytics.engine.zones import to_datetime

W = H = 1000
BOX_H = 100.0  # dead band at the defaults: 12 px


def _counter(
    in_sign: int = 1,
    k: int = 3,
    a: tuple[float, float] = (0.5, 0.0),
    b: tuple[float, float] = (0.5, 1.0),
) -> LineCounter:
    counter = LineCounter(
        "cam-1",
        [LineInfo(id="door", a=a, b=b, in_sign=in_sign, counts_store_entry=False)],
        min_crossing_frames=k,
        min_crossing_displacement=0.01,
        crossing_band_box_heights=0.12,
        crossing_segment_margin=0.05,
    )
    counter.prepare(W, H)
    return counter


def _run(
    counter: LineCounter, points: list[tuple[float, float]], dt: float = 0.1, end: bool = False
) -> list[LineCrossed]:
    states: list[LineState] = counter.new_states()
    out: list[EngineEvent] = []
    prev = (0.0, 0.0, 0.0)
    for k, (x, y) in enumerate(points):
        t = 100.0 + k * dt
        counter.observe(1, None, states, x * W, y * H, BOX_H, *prev, t, to_datetime(t), out)
        prev = (x * W, y * H, t)
    if end:
        counter.close_track(1, None, states, BOX_H, to_datetime(200.0), out)
    return [e for e in out if isinstance(e, LineCrossed)]


def _walk(x0: float, x1: float, n: int, y: float = 0.5) -> list[tuple[float, float]]:
    return [(x0 + (x1 - x0) * k / (n - 1), y) for k in range(n)]


def test_direction_convention() -> None:
    # a -> b points down the image; its right (as drawn) is the left half of the image
    counter = _counter(in_sign=1)
    crossings = _run(counter, _walk(0.7, 0.3, 21))
    assert [c.direction for c in crossings] == ["in"]
    crossings = _run(counter, _walk(0.3, 0.7, 21))
    assert [c.direction for c in crossings] == ["out"]
    # horizontal line a=(0,0.5) -> b=(1,0.5): right is the lower half
    horizontal = _counter(in_sign=1, a=(0.0, 0.5), b=(1.0, 0.5))
    down = _run(horizontal, [(0.5, 0.3 + 0.02 * k) for k in range(21)])
    assert [c.direction for c in down] == ["in"]


def test_crossing_time_is_interpolated() -> None:
    counter = _counter()
    crossings = _run(counter, _walk(0.45, 0.65, 21))  # 0.01 per step, line at 0.5 = step 5
    assert len(crossings) == 1
    assert crossings[0].crossed_at.timestamp() == pytest.approx(100.5, abs=1e-6)
    # committed on the third observation at least 12 px past the line (steps 7, 8, 9)
    assert crossings[0].at.timestamp() == pytest.approx(100.9, abs=1e-6)


def test_once_per_direction_change() -> None:
    counter = _counter()
    path = _walk(0.3, 0.7, 21) + _walk(0.7, 0.3, 21) + _walk(0.3, 0.7, 21)
    assert [c.direction for c in _run(counter, path)] == ["out", "in", "out"]


def test_standing_on_the_line_with_jitter_never_counts() -> None:
    rng = np.random.default_rng(1)
    counter = _counter()
    # foot-point x jitter of 3 % of the box height: sigma 3 px, band 12 px
    for centre in (0.5, 0.505, 0.495, 0.509):
        points = [(centre + rng.normal(0, 0.003), 0.5) for _ in range(3000)]
        assert _run(counter, points) == [], centre


def test_walking_along_the_line_with_jitter_never_counts() -> None:
    rng = np.random.default_rng(2)
    counter = _counter(a=(0.1, 0.5), b=(0.9, 0.5))
    points = [(0.1 + 0.0005 * k, 0.5 + rng.normal(0, 0.003)) for k in range(1600)]
    assert _run(counter, points) == []


def test_a_brief_excursion_does_not_count() -> None:
    counter = _counter()
    # two frames over the line (K = 3) and back
    points = [*_walk(0.3, 0.45, 5), (0.6, 0.5), (0.6, 0.5), *_walk(0.45, 0.3, 5)]
    assert _run(counter, points) == []


def test_walking_around_the_end_is_not_a_crossing() -> None:
    counter = _counter(a=(0.5, 0.0), b=(0.5, 0.4))
    below = _run(counter, _walk(0.3, 0.7, 41, y=0.6))
    assert below == []
    through = _run(counter, _walk(0.3, 0.7, 41, y=0.3))
    assert len(through) == 1
    # just past the end, within the 5 % margin, still counts
    edge = _run(counter, _walk(0.3, 0.7, 41, y=0.415))
    assert len(edge) == 1


def test_crossing_across_a_detection_gap() -> None:
    counter = _counter()
    # last seen at 0.45, next seen at 0.58 (occluded in between)
    crossings = _run(counter, [*_walk(0.4, 0.45, 6), *_walk(0.58, 0.65, 8)])
    assert len(crossings) == 1


def test_track_born_near_the_line_counts_its_crossing() -> None:
    counter = _counter()
    crossings = _run(counter, _walk(0.495, 0.7, 21))
    assert len(crossings) == 1


def test_track_end_commits_a_crossing_only_beyond_the_band() -> None:
    counter = _counter()
    # crossed and last seen 20 px past the line, only 2 observations there: committed at end
    assert len(_run(counter, [(0.45, 0.5), (0.48, 0.5), (0.515, 0.5), (0.52, 0.5)], end=True)) == 1
    # last seen 5 px past the line: not enough evidence
    assert _run(counter, [(0.45, 0.5), (0.48, 0.5), (0.505, 0.5)], end=True) == []
    # without the end the first case is still pending
    assert _run(counter, [(0.45, 0.5), (0.48, 0.5), (0.515, 0.5), (0.52, 0.5)]) == []


def test_dead_band_scales_with_box_height() -> None:
    counter = _counter()
    assert counter.band(100.0) == pytest.approx(12.0)
    assert counter.band(300.0) == pytest.approx(36.0)
    assert counter.band(10.0) == pytest.approx(10.0)  # floor: 1 % of 1000 px


def test_moved_line_restarts_state() -> None:
    counter = _counter()
    states = counter.new_states()
    out: list[EngineEvent] = []
    counter.observe(1, None, states, 300.0, 500.0, BOX_H, 0.0, 0.0, 0.0, 1.0, to_datetime(1.0), out)
    assert states[0].side == 1  # x = 0.3 is on the right of a -> b (pointing down)
    same = LineInfo(id="door", a=(0.5, 0.0), b=(0.5, 1.0), in_sign=-1, counts_store_entry=True)
    counter.reconfigure([same], [states])
    assert states[0].side == 1  # same geometry: progress kept
    moved = LineInfo(id="door", a=(0.2, 0.0), b=(0.2, 1.0), in_sign=1, counts_store_entry=False)
    counter.reconfigure([moved], [states])
    assert states[0].side == 0
    assert LineState.from_json(states[0].to_json()).side == 0


def test_first_sighting_on_the_line_leaves_the_side_undecided() -> None:
    """2 px from the line (a third of the 12 px band is 4 px) is within jitter reach: the
    side, and so whether a crossing happened, is not decided by that first box."""
    counter = _counter()
    assert _run(counter, _walk(0.502, 0.7, 21)) == []
    states = counter.new_states()
    out: list[EngineEvent] = []
    counter.observe(1, None, states, 498.0, 500.0, BOX_H, 0.0, 0.0, 0.0, 1.0, to_datetime(1.0), out)
    assert states[0].side == 0
    counter.observe(
        1, None, states, 490.0, 500.0, BOX_H, 498.0, 500.0, 1.0, 1.1, to_datetime(1.1), out
    )
    assert states[0].side == 1  # 10 px clear of it: decided, and no crossing
    assert out == []


def _two_tracks(
    counter: LineCounter, frames: list[list[tuple[int, float, float]]], split: int | None = None
) -> list[LineCrossed]:
    """Frames of (track, x, y) observations at 10 fps; with `split`, the counter's own
    state goes through JSON into a fresh counter before frame `split`."""
    states = {1: counter.new_states(), 2: counter.new_states()}
    prev: dict[int, tuple[float, float, float]] = {}
    out: list[EngineEvent] = []
    for k, frame in enumerate(frames):
        if k == split:
            fresh = _counter()
            fresh.load(json.loads(json.dumps(counter.to_json())))
            counter = fresh
        t = 100.0 + k * 0.1
        for tid, x, y in frame:
            p = prev.get(tid, (0.0, 0.0, -math.inf))  # the engine's "never seen"
            counter.observe(tid, None, states[tid], x * W, y * H, BOX_H, *p, t, to_datetime(t), out)
            prev[tid] = (x * W, y * H, t)
    return [e for e in out if isinstance(e, LineCrossed)]


@pytest.mark.parametrize("split", [None, 6, 9])
def test_one_person_followed_by_two_tracks_in_turn_counts_once(split: int | None) -> None:
    """A tracker alternating two tracks on one person: both cross, one crossing counts
    (also across a snapshot of the counter in the middle)."""
    walk = _walk(0.3, 0.7, 21)
    frames = [[(1 if k % 2 == 0 else 2, x, y)] for k, (x, y) in enumerate(walk)]
    assert len(_two_tracks(_counter(), frames, split)) == 1


def test_two_people_walking_through_together_count_twice() -> None:
    """Side by side, 30 px apart, crossing in the same frame: seen together, two people."""
    walk = _walk(0.3, 0.7, 21)
    frames = [[(1, x, 0.50), (2, x + 0.004, 0.53)] for x, _y in walk]
    assert len(_two_tracks(_counter(), frames)) == 2
    # one right behind the other, 0.1 s apart: two people too
    frames = [[(1, x, 0.5), (2, x - 0.01, 0.5)] for x, _y in walk]
    assert len(_two_tracks(_counter(), frames)) == 2


def _lost_and_found(gap_frames: int, y_after: float = 0.5) -> list[list[tuple[int, float, float]]]:
    """Track 1 walks from x = 0.30 to 0.44 (0.01 a frame), is lost for `gap_frames`
    frames, and track 2 appears where it was heading (at `y_after`) and walks on."""
    walk = [(0.30 + 0.01 * k, 0.5) for k in range(15)]
    after = [(0.45 + 0.01 * (gap_frames + k), y_after) for k in range(15)]
    return [
        *[[(1, x, y)] for x, y in walk],
        *[[] for _ in range(gap_frames)],
        *[[(2, x, y)] for x, y in after],
    ]


@pytest.mark.parametrize("split", [None, 17, 21])
def test_a_track_lost_before_the_line_and_found_after_it_counts_once(split: int | None) -> None:
    """The person crossed while hidden: the new track carries on the lost one's side
    (also across a snapshot of the counter between the two)."""
    crossings = _two_tracks(_counter(), _lost_and_found(gap_frames=8), split)
    assert [(c.track_id, c.direction) for c in crossings] == [(2, "out")]
    assert 100.0 + 1.4 < crossings[0].crossed_at.timestamp() < 100.0 + 2.3  # in the gap


def test_a_new_track_far_from_where_the_lost_one_was_heading_is_someone_else() -> None:
    # 300 px (3 box heights) below the predicted spot
    assert _two_tracks(_counter(), _lost_and_found(gap_frames=8, y_after=0.8)) == []
    # lost for longer than STITCH_MAX_GAP_S (2 s at 10 fps = 20 frames)
    assert _two_tracks(_counter(), _lost_and_found(gap_frames=25)) == []


def test_the_lost_track_coming_back_does_not_count_the_crossing_again() -> None:
    frames = _lost_and_found(gap_frames=8)
    # track 1 reappears next to track 2 (the tracker re-found it too) and walks on
    frames += [[(1, 0.75 + 0.01 * k, 0.52), (2, 0.75 + 0.01 * k, 0.5)] for k in range(10)]
    crossings = _two_tracks(_counter(), frames)
    assert [(c.track_id, c.direction) for c in crossings] == [(2, "out")]


def test_a_snapshot_from_an_older_format_restores_an_empty_memory() -> None:
    """An upgraded service restarts from the checkpoint its predecessor wrote: a counter
    state without this format's keys (or none at all) starts empty instead of failing."""
    counter = _counter()
    _run(counter, _walk(0.3, 0.7, 12))
    old = counter.to_json()
    del old["seen"]
    for data in (None, old):
        fresh = _counter()
        fresh.load(data)
        assert fresh.to_json() == _counter().to_json()
        assert len(_run(fresh, _walk(0.3, 0.7, 12))) == 1
