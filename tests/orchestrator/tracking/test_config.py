from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.tracking import TrackerConfig


def test_typo_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="track_bufer"):
        TrackerConfig.model_validate({"track_bufer": 60})


@pytest.mark.parametrize(
    ("field", "value"),
    [("track_high_thresh", 1.5), ("match_thresh", -0.1), ("track_buffer", -1), ("frame_rate", 0)],
)
def test_out_of_range_values_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        TrackerConfig.model_validate({field: value})


def test_threshold_order_is_enforced() -> None:
    with pytest.raises(ValidationError, match="track_low_thresh"):
        TrackerConfig(track_low_thresh=0.6, track_high_thresh=0.5)
    with pytest.raises(ValidationError, match="new_track_thresh"):
        TrackerConfig(new_track_thresh=0.4)


def test_every_field_is_documented() -> None:
    for name, field in TrackerConfig.model_fields.items():
        assert field.description, name


@pytest.mark.parametrize(
    ("frame_rate", "buffer", "expected"),
    [(30, 30, 30), (15, 30, 15), (10, 30, 10), (60, 30, 60), (25, 30, 25)],
)
def test_lost_buffer_scales_with_frame_rate(frame_rate: float, buffer: int, expected: int) -> None:
    assert TrackerConfig(frame_rate=frame_rate, track_buffer=buffer).max_time_lost == expected
