"""Line crossings: direction convention, once per direction change, jitter immunity."""

from __future__ import annotations

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
