"""Zone membership: the lookup grid, hysteresis, back-dated stays, occupancy."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.engine.events import EngineEvent, OccupancyChanged, ZoneEntered, ZoneExited
from analytics.engine.zones import TrackZones, ZoneIndex, ZoneInfo, ZoneMembership, to_datetime

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
TRIANGLE = ((0.5, 0.1), (0.95, 0.9), (0.05, 0.9))
STAR = tuple(
    (0.5 + r * np.cos(a), 0.5 + r * np.sin(a))
    for k, a in enumerate(np.linspace(0, 2 * np.pi, 14, endpoint=False))
    for r in [0.45 if k % 2 == 0 else 0.15]
)


def _info(zone_id: str) -> ZoneInfo:
    return ZoneInfo(id=zone_id, kind="area", area=zone_id, capacity=None, dwell_threshold_s=None)


def test_grid_lookup_matches_exact_test() -> None:
    index = ZoneIndex([SQUARE, TRIANGLE, STAR])
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.05, 1.05, (20000, 2)).tolist()
    # and points right on and next to edges, where the grid defers to the exact test
    points += [(0.2, y) for y in np.linspace(0, 1, 101)] + [(0.6 + 1e-9, 0.4), (0.6 - 1e-9, 0.4)]
    for x, y in points:
        assert index.lookup(x, y) == index.exact(x, y), (x, y)


def test_grid_lookup_bits() -> None:
    index = ZoneIndex([SQUARE, TRIANGLE])
    assert index.lookup(0.4, 0.4) == 0b11
    assert index.lookup(0.3, 0.25) == 0b01
    assert index.lookup(0.5, 0.8) == 0b10
    assert index.lookup(0.05, 0.05) == 0
    # clamped onto the frame: a foot below the frame stands on its bottom edge
    full = ZoneIndex([((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))])
    assert full.lookup(0.5, 1.2) == 1
    assert full.lookup(1.3, 0.7) == 1


def _membership(n_in: int = 3, n_out: int = 3) -> ZoneMembership:
    return ZoneMembership("cam-1", [_info("a"), _info("b")], [SQUARE, TRIANGLE], n_in, n_out)


def _feed(
    m: ZoneMembership, state: TrackZones, masks: list[int], dt: float = 0.1
) -> list[EngineEvent]:
    out: list[EngineEvent] = []
    for k, mask in enumerate(masks):
        t = 1000.0 + k * dt
        m.observe(7, "v-1", state, mask, t, to_datetime(t), out)
        m.flush_occupancy(to_datetime(t), out)
    return out


def test_enter_after_n_frames_back_dated() -> None:
    m = _membership()
    state = TrackZones()
    events = _feed(m, state, [0, 1, 1, 1, 1])
    entered = [e for e in events if isinstance(e, ZoneEntered)]
    assert len(entered) == 1
    assert entered[0].zone_id == "a"
    assert entered[0].entered_at == to_datetime(1000.1)  # first inside observation
    assert entered[0].at == to_datetime(1000.3)  # confirmed on the third
    assert entered[0].visit_id == "v-1"
    assert state.inside == 1


def test_exit_after_m_frames_and_dwell() -> None:
    m = _membership()
    state = TrackZones()
    events = _feed(m, state, [1, 1, 1, 1, 1, 0, 0, 0, 0])
    exited = [e for e in events if isinstance(e, ZoneExited)]
    assert len(exited) == 1
    assert exited[0].reason == "exited"
    assert exited[0].exited_at == to_datetime(1000.5)
    assert exited[0].dwell_s == pytest.approx(0.5)
    assert state.inside == 0


def test_jitter_at_the_edge_makes_no_stay() -> None:
    m = _membership()
    state = TrackZones()
    events = _feed(m, state, [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0] * 10)
    assert not [e for e in events if isinstance(e, ZoneEntered | ZoneExited)]


def test_jitter_inside_does_not_end_a_stay() -> None:
    m = _membership()
    state = TrackZones()
    events = _feed(m, state, [1, 1, 1] + [1, 0, 1, 1, 0, 0, 1] * 10)
    assert [type(e) for e in events if isinstance(e, ZoneEntered | ZoneExited)] == [ZoneEntered]


def test_two_zones_independently() -> None:
    m = _membership(n_in=2, n_out=2)
    state = TrackZones()
    events = _feed(m, state, [1, 1, 3, 3, 2, 2, 0, 0])
    kinds = [
        (type(e).__name__, e.zone_id) for e in events if isinstance(e, ZoneEntered | ZoneExited)
    ]
    assert kinds == [
        ("ZoneEntered", "a"),
        ("ZoneEntered", "b"),
        ("ZoneExited", "a"),
        ("ZoneExited", "b"),
    ]


def test_occupancy_only_on_change() -> None:
    m = _membership(n_in=1, n_out=1)
    a, b = TrackZones(), TrackZones()
    out: list[EngineEvent] = []
    t = 1000.0
    m.observe(1, None, a, 1, t, to_datetime(t), out)
    m.observe(2, None, b, 1, t, to_datetime(t), out)
    m.flush_occupancy(to_datetime(t), out)
    occ = [e for e in out if isinstance(e, OccupancyChanged)]
    assert [(e.zone_id, e.count, e.previous) for e in occ] == [("a", 2, 0)]
    out.clear()
    # one leaves, another... the same frame: net zero, nothing reported
    m.observe(1, None, a, 0, t + 1, to_datetime(t + 1), out)
    c = TrackZones()
    m.observe(3, None, c, 1, t + 1, to_datetime(t + 1), out)
    m.flush_occupancy(to_datetime(t + 1), out)
    assert not [e for e in out if isinstance(e, OccupancyChanged)]
    assert m.counts[0] == 2


def test_close_track_uses_last_sighting_and_pending_exit() -> None:
    m = _membership()
    state = TrackZones()
    _feed(m, state, [3, 3, 3, 1])  # in a and b; leaving b (one outside observation at t+0.3)
    out: list[EngineEvent] = []
    m.close_track(7, None, state, 1000.3, "track_ended", to_datetime(1005.0), out)
    exits = {e.zone_id: e for e in out if isinstance(e, ZoneExited)}
    assert exits["a"].exited_at == to_datetime(1000.3)
    assert exits["b"].exited_at == to_datetime(1000.3)
    assert {e.reason for e in exits.values()} == {"track_ended"}
    assert state.inside == 0 and not state.pending
    assert m.counts == [0, 0]


def test_state_round_trip() -> None:
    m = _membership()
    state = TrackZones()
    _feed(m, state, [1, 1, 1, 3, 3])
    data = m.state_of(state)
    back = m.load_track(data)
    assert (back.inside, back.entered, back.pending) == (state.inside, state.entered, state.pending)
