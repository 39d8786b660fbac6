"""Adaptive sampler: critical tiers survive overload, low tiers shed first, motion wins."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.frames import (
    AdaptiveSampler,
    DropReason,
    ManualClock,
    SamplerPolicy,
    load_ratio,
    stride_for,
)
from orchestrator.metrics import OrchestratorMetrics
from tests.support.metrics import read_metric
from trinetra.config import PriorityTier

CRITICAL, HIGH, NORMAL, LOW = (
    PriorityTier.CRITICAL,
    PriorityTier.HIGH,
    PriorityTier.NORMAL,
    PriorityTier.LOW,
)


def test_stride_by_tier_and_load() -> None:
    assert [stride_for(CRITICAL, load) for load in (0.0, 0.9, 1.0)] == [1, 1, 1]
    assert [stride_for(HIGH, load) for load in (0.5, 0.79, 0.8, 0.9, 1.0)] == [1, 1, 2, 3, 4]
    assert [stride_for(NORMAL, load) for load in (0.59, 0.6, 1.0)] == [1, 2, 6]
    assert [stride_for(LOW, load) for load in (0.39, 0.4, 1.0)] == [1, 2, 10]
    # Lower tiers never keep more than higher ones at the same load.
    for load in [i / 20 for i in range(21)]:
        strides = [stride_for(tier, load) for tier in (CRITICAL, HIGH, NORMAL, LOW)]
        assert strides == sorted(strides)
    assert stride_for(LOW, 7.0) == 10 and stride_for(LOW, -1.0) == 1  # load is clamped


def test_load_ratio() -> None:
    assert load_ratio(0, 10) == 0.0
    assert load_ratio(8, 10) == 0.8
    assert load_ratio(50, 10) == 1.0
    assert load_ratio(1, 0) == 1.0


def _simulate(
    sampler: AdaptiveSampler,
    clock: ManualClock,
    cameras: dict[str, PriorityTier],
    load: float,
    seconds: float,
    fps: float = 10.0,
    motion: dict[str, list[float]] | None = None,
) -> dict[str, int]:
    kept = dict.fromkeys(cameras, 0)
    for i in range(round(seconds * fps)):
        clock.advance(1.0 / fps)
        for camera_id, tier in cameras.items():
            score = None if motion is None else motion[camera_id][i % len(motion[camera_id])]
            kept[camera_id] += sampler.decide(camera_id, tier, load, score).keep
    return kept


def test_overload_keeps_every_critical_frame_and_sheds_low_tiers_first(
    metrics: OrchestratorMetrics,
) -> None:
    clock = ManualClock()
    sampler = AdaptiveSampler(clock=clock, metrics=metrics)
    cameras = {"billing-1": CRITICAL, "entrance-1": CRITICAL, "aisle": HIGH, "backroom": LOW}
    kept = _simulate(sampler, clock, cameras, load=1.0, seconds=10)

    assert kept["billing-1"] == 100
    assert kept["entrance-1"] == 100
    assert kept["aisle"] == 25  # 1 in 4
    assert kept["backroom"] == 10  # 1 in 10
    assert (
        read_metric(
            metrics.registry,
            "trinetra_frames_dropped_total",
            {"camera": "backroom", "reason": "load_shed"},
        )
        == 90
    )
    assert (
        metrics.registry.get_sample_value(
            "trinetra_frames_dropped_total", {"camera": "billing-1", "reason": "load_shed"}
        )
        is None
    )


def test_moderate_load_only_touches_the_lower_tiers() -> None:
    clock = ManualClock()
    sampler = AdaptiveSampler(clock=clock)
    cameras = {"billing": CRITICAL, "aisle": HIGH, "general": NORMAL, "backroom": LOW}
    kept = _simulate(sampler, clock, cameras, load=0.7, seconds=10)
    assert kept["billing"] == kept["aisle"] == 100
    assert stride_for(NORMAL, 0.7) == 3 and stride_for(LOW, 0.7) == 6
    assert kept["general"] in (33, 34)
    assert kept["backroom"] in (16, 17)


def test_no_load_keeps_everything() -> None:
    clock = ManualClock()
    sampler = AdaptiveSampler(clock=clock)
    kept = _simulate(sampler, clock, {"a": LOW, "b": NORMAL}, load=0.0, seconds=5)
    assert kept == {"a": 50, "b": 50}


def test_motion_frames_are_preferred_over_static_ones() -> None:
    clock = ManualClock()
    sampler = AdaptiveSampler(clock=clock)
    threshold = sampler.policy.motion_threshold
    # The same camera alternates busy and quiet periods of 2 s each.
    pattern = [threshold * 5] * 20 + [0.0] * 20
    kept_moving = kept_static = 0
    for i in range(400):
        clock.advance(0.1)
        score = pattern[i % len(pattern)]
        if sampler.decide("aisle", NORMAL, 0.8, score).keep:
            if score > 0:
                kept_moving += 1
            else:
                kept_static += 1
    assert kept_moving >= 2 * kept_static > 0


def test_static_frames_are_dropped_with_their_own_reason(metrics: OrchestratorMetrics) -> None:
    clock = ManualClock()
    sampler = AdaptiveSampler(clock=clock, metrics=metrics)
    decisions = []
    for _ in range(40):
        clock.advance(0.1)
        decisions.append(sampler.decide("aisle", HIGH, 1.0, motion=0.0))
    assert {d.stride for d in decisions} == {8}  # 1-in-4 doubled for static frames
    assert sum(d.keep for d in decisions) == 5
    reasons = {d.reason for d in decisions if not d.keep}
    assert reasons == {DropReason.LOAD_SHED, DropReason.STATIC}
    static = read_metric(
        metrics.registry, "trinetra_frames_dropped_total", {"camera": "aisle", "reason": "static"}
    )
    assert static == 20  # 4 of every 8: kept at stride 4, dropped only for being static


def test_no_camera_starves_beyond_the_max_gap() -> None:
    clock = ManualClock()
    policy = SamplerPolicy(max_stride={HIGH: 4, NORMAL: 6, LOW: 100}, max_gap_s=2.0)
    sampler = AdaptiveSampler(policy, clock=clock)
    kept_at = []
    for _ in range(200):  # 20 s at 10 fps, static, full load: stride 200
        clock.advance(0.1)
        if sampler.decide("backroom", LOW, 1.0, motion=0.0).keep:
            kept_at.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(kept_at)]
    assert len(kept_at) >= 9
    assert max(gaps) <= 2.0 + 0.1 + 1e-6  # the first frame at or after the gap


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        SamplerPolicy(start_load={HIGH: 1.0, NORMAL: 0.6, LOW: 0.4})
    with pytest.raises(ValueError):
        SamplerPolicy(max_stride={HIGH: 1, NORMAL: 6, LOW: 10})
