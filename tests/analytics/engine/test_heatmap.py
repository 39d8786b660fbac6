"""Heatmaps: one grid per minute of frame time, samples, person-seconds and flow."""

from __future__ import annotations

import pytest

from analytics.config import EngineSettings
from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import EngineEvent, HeatmapGrid
from tests.analytics.helpers import box, config, frame


def _grids(events: list[EngineEvent]) -> list[HeatmapGrid]:
    return [e for e in events if isinstance(e, HeatmapGrid)]


def test_grid_per_minute_with_samples_seconds_and_flow() -> None:
    engine = StoreAnalytics(config(), EngineSettings(heatmap_cols=4, heatmap_rows=2))
    events: list[EngineEvent] = []
    # one person walking right along y = 0.25 at 0.01 per 0.5 s, 2 fps, for 70 s
    for k in range(140):
        t = 0.5 * k
        events += engine.process(frame(k, t, [box(1, (0.1 + 0.005 * k, 0.25))]))
    grids = _grids(events)
    assert len(grids) == 1  # the first minute closed; the second is still open
    grid = grids[0]
    assert grid.minute_start.second == 0 and grid.cols == 4 and grid.rows == 2
    assert sum(grid.samples) == 120
    assert sum(grid.samples[4:]) == 0  # nobody in the lower row
    assert sum(grid.person_seconds) == pytest.approx(59.5)  # first frame has no interval
    moving = [i for i, n in enumerate(grid.flow_samples) if n]
    assert moving
    for i in moving:
        assert grid.flow_dx[i] == pytest.approx(0.01)  # frame widths per second
        assert grid.flow_dy[i] == pytest.approx(0.0)
    flushed = _grids(engine.flush(grid.at))
    assert len(flushed) == 1 and sum(flushed[0].samples) == 20


def test_no_grid_for_minutes_without_frames() -> None:
    engine = StoreAnalytics(config())
    events = engine.process(frame(1, 10.0, [box(1, (0.5, 0.5))]))
    events += engine.process(frame(2, 600.0, [box(1, (0.5, 0.5))]))  # camera was down
    grids = _grids(events)
    assert len(grids) == 1
    assert sum(grids[0].samples) == 1
    assert sum(grids[0].person_seconds) == 0.0
    assert sum(grids[0].flow_samples) == 0
    assert len(grids[0].samples) == 32 * 24


def test_feet_outside_the_frame_land_on_the_border() -> None:
    engine = StoreAnalytics(config(), EngineSettings(heatmap_cols=2, heatmap_rows=2))
    engine.process(frame(1, 0.0, [box(1, (1.2, 1.1)), box(2, (-0.1, -0.2))]))
    grid = _grids(engine.flush(frame(2, 1.0, []).at))[0]
    assert grid.samples == (1, 0, 0, 1)
