"""The demo camera's rate comes from the measured capacity of the inference tier
(devservices/capacity.py): half of what it analyses, in whole frames per second."""

from __future__ import annotations

import math

import pytest

from devservices.capacity import (
    MAX_DEMO_FPS,
    MIN_DEMO_FPS,
    camera_fps,
    measure_frames_per_s,
    sample_frames,
)
from devservices.demo import SAMPLE_VIDEO
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings, VisionClient


@pytest.mark.parametrize(
    ("capacity", "fps"),
    [(7.1, 3.0), (10.5, 5.0), (36.0, MAX_DEMO_FPS), (1.5, MIN_DEMO_FPS), (0.0, MIN_DEMO_FPS)],
)
def test_the_camera_takes_half_the_capacity_within_bounds(capacity: float, fps: float) -> None:
    assert camera_fps(capacity) == fps


def test_an_unusable_measurement_gives_the_slowest_rate() -> None:
    assert camera_fps(math.nan) == MIN_DEMO_FPS
    assert camera_fps(-3.0) == MIN_DEMO_FPS


async def test_the_capacity_is_measured_on_the_real_pipeline(triton_server: LocalTriton) -> None:
    frames = sample_frames(SAMPLE_VIDEO, 8)
    assert len(frames) == 8 and len({f.tobytes()[:4096] for f in frames}) > 1  # spread out
    async with VisionClient(TritonSettings(url=triton_server.grpc_url, call_timeout_s=60)) as c:
        capacity = await measure_frames_per_s(c, frames, in_flight=2, warmup=1)
    # The CPU profile on a few cores analyses a few to a few tens of frames per second.
    assert 0.5 < capacity < 500
    assert MIN_DEMO_FPS <= camera_fps(capacity) <= MAX_DEMO_FPS
