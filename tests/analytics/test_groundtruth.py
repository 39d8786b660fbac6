"""MOT ground truth as engine input."""

from __future__ import annotations

import pytest

from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import ZoneExited
from analytics.groundtruth import REPLAY_START, load_mot, parse_mot, replay, to_sequence
from tests.analytics.helpers import square, zone
from tests.support.media import media_path
from trinetra.config.analytics import StoreAnalyticsConfig


def test_parse_mot_rows() -> None:
    rows = parse_mot(
        [
            "2,1,10,20,30,40,1,-1,-1,-1",
            "1,2,0,0,10,10,0,-1,-1,-1",  # conf 0: an ignore region
            "",
            "1,1,12,22,30,40,1",
        ]
    )
    assert [(r.frame, r.object_id) for r in rows] == [(1, 1), (2, 1)]
    assert rows[1].xyxy == (10.0, 20.0, 40.0, 60.0)
    with pytest.raises(ValueError, match="line 1"):
        parse_mot(["1,2,3"])


def test_sequence_timing_and_ends() -> None:
    rows = parse_mot(["1,1,0,0,10,10,1", "3,1,0,0,10,10,1", "2,2,5,5,10,10,1"])
    seq = to_sequence(rows, "cam-1", fps=10.0, width=100, height=100)
    assert len(seq.frames) == 3
    assert seq.frames[2].at.timestamp() - REPLAY_START.timestamp() == pytest.approx(0.2)
    assert seq.last_frame == {1: 3, 2: 2}
    assert [b.track_id for b in seq.frames[1].tracks] == [2]


def test_tud_campus_loads_and_replays() -> None:
    seq = load_mot(media_path("TUD-Campus-gt.txt"), "cam-1", 25.0, 640, 480)
    assert len(seq.frames) == 71
    assert len(seq.last_frame) == 8
    cfg = StoreAnalyticsConfig(
        store_id="s", version=1, zones=(zone("walkway", square(0.0, 0.6, 1.0, 1.0)),)
    )
    events = replay(StoreAnalytics(cfg), seq)
    stays = [e for e in events if isinstance(e, ZoneExited)]
    assert len(stays) == 8  # everyone walks on the walkway, once
