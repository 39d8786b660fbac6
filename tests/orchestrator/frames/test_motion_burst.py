"""Motion score and the burst suppressor (token bucket), deterministic clocks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from orchestrator.frames import BurstSuppressor, ManualClock, MotionScorer, SamplerPolicy
from tests.support.media import video_frame


def test_motion_scores_static_low_and_moving_high(real_frame: NDArray[np.uint8]) -> None:
    scorer = MotionScorer()
    assert scorer.score(real_frame) == 1.0  # first frame: new content
    assert scorer.score(real_frame.copy()) == 0.0
    later = video_frame("vtest.avi", 5)  # people walked for half a second
    moving = scorer.score(later)
    threshold = SamplerPolicy().motion_threshold
    assert moving > threshold
    noisy = later.astype(np.int16) + np.random.default_rng(0).integers(-3, 4, later.shape)
    assert scorer.score(noisy.clip(0, 255).astype(np.uint8)) < threshold  # sensor noise
    scorer.reset()
    assert scorer.score(later) == 1.0


def test_bucket_allows_a_burst_then_holds_the_rate() -> None:
    clock = ManualClock()
    bucket = BurstSuppressor(rate=10, burst=5, clock=clock)
    assert [bucket.allow() for _ in range(7)] == [True] * 5 + [False] * 2
    clock.advance(0.1)
    assert bucket.allow() and not bucket.allow()
    clock.advance(0.05)
    assert not bucket.allow()  # half a token
    clock.advance(0.05)
    assert bucket.allow()


def test_bucket_long_run_rate_under_a_flood() -> None:
    clock = ManualClock()
    bucket = BurstSuppressor(rate=10, burst=5, clock=clock)
    passed = 0
    for _ in range(1000):  # 100 fps for 10 s
        clock.advance(0.01)
        passed += bucket.allow()
    assert passed == pytest.approx(10 * 10 + 5, abs=2)


def test_bucket_absorbs_jitter_at_the_target_rate() -> None:
    clock = ManualClock()
    bucket = BurstSuppressor(rate=10, burst=5, clock=clock)
    rng = np.random.default_rng(3)
    passed = 0
    for _ in range(200):  # 10 fps on average, arrival times jittered by +-50 %
        clock.advance(0.1 * float(rng.uniform(0.5, 1.5)))
        passed += bucket.allow()
    assert passed == 200


def test_bucket_ignores_a_clock_going_back_and_validates() -> None:
    clock = ManualClock(100.0)
    bucket = BurstSuppressor(rate=1, burst=1, clock=clock)
    assert bucket.allow()
    assert not bucket.allow(now=50.0)  # no refill from a step backwards
    assert bucket.allow(now=101.0)
    with pytest.raises(ValueError):
        BurstSuppressor(rate=0)
    with pytest.raises(ValueError):
        BurstSuppressor(rate=1, burst=0.5)
