"""Adaptive, priority-aware frame sampling under load.

When the inference stage falls behind, frames must be shed somewhere; where is a policy
decision (master reference 3.3):

- critical tier (billing, entrance): never dropped by the sampler; counts and billing
  confirmations depend on every frame;
- lower tiers are thinned to 1-in-N ("stride" N), starting at a lower load and going
  further the lower the tier: high from 80 % load up to 1-in-4, normal from 60 % up to
  1-in-6, low from 40 % up to 1-in-10;
- motion-aware: under load a frame with motion (score >= threshold) is kept at half the
  stride, a static frame at twice the stride, so the budget goes to frames where
  something happens;
- no non-critical camera is starved: a frame is always kept after `max_gap_s` without one.

`load` is a pressure signal in 0..1 (e.g. the inference queue's fill ratio), supplied by
the caller. Pure logic with an injectable clock: the same inputs give the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator.frames.clock import Clock, monotonic
from orchestrator.metrics import OrchestratorMetrics
from trinetra.config.camera import PriorityTier

__all__ = [
    "AdaptiveSampler",
    "DropReason",
    "SampleDecision",
    "SamplerPolicy",
    "load_ratio",
    "stride_for",
]


class DropReason(StrEnum):
    LOAD_SHED = "load_shed"  # dropped to reduce the camera's rate under load
    STATIC = "static"  # would have been kept had it shown motion


def _default_start() -> dict[PriorityTier, float]:
    return {PriorityTier.HIGH: 0.8, PriorityTier.NORMAL: 0.6, PriorityTier.LOW: 0.4}


def _default_max_stride() -> dict[PriorityTier, int]:
    return {PriorityTier.HIGH: 4, PriorityTier.NORMAL: 6, PriorityTier.LOW: 10}


@dataclass(frozen=True)
class SamplerPolicy:
    """Thresholds of the sampler (module docs). Critical never appears: it is never thinned."""

    start_load: Mapping[PriorityTier, float] = field(default_factory=_default_start)
    max_stride: Mapping[PriorityTier, int] = field(default_factory=_default_max_stride)
    # Calibrated on vtest.avi (pedestrians, 10 fps): walking people score 0.001-0.01
    # (median 0.004); re-encoding the same frame as JPEG scores ~0.0007.
    motion_threshold: float = 0.002
    max_gap_s: float = 2.0

    def __post_init__(self) -> None:
        for tier in (PriorityTier.HIGH, PriorityTier.NORMAL, PriorityTier.LOW):
            if not 0.0 <= self.start_load[tier] < 1.0:
                raise ValueError(f"start_load[{tier}] must be in [0, 1)")
            if self.max_stride[tier] < 2:
                raise ValueError(f"max_stride[{tier}] must be >= 2")


DEFAULT_POLICY = SamplerPolicy()


def load_ratio(queued: int, capacity: int) -> float:
    """A queue's fill as a 0..1 load signal."""
    if capacity <= 0:
        return 1.0
    return min(1.0, max(0.0, queued / capacity))


def stride_for(tier: PriorityTier, load: float, policy: SamplerPolicy = DEFAULT_POLICY) -> int:
    """Keep 1 frame in N for `tier` at `load` (before the motion adjustment)."""
    if tier is PriorityTier.CRITICAL:
        return 1
    start = policy.start_load[tier]
    load = min(1.0, max(0.0, load))
    if load < start:
        return 1
    # From 1-in-2 at the start load up to 1-in-max_stride at full load.
    fraction = (load - start) / (1.0 - start)
    return 2 + round(fraction * (policy.max_stride[tier] - 2))


@dataclass(frozen=True, slots=True)
class SampleDecision:
    keep: bool
    stride: int  # effective 1-in-N applied to this frame
    reason: DropReason | None = None  # why it was dropped (None when kept)


@dataclass
class _CameraState:
    since_kept: int = 0  # frames dropped since the last kept one
    last_kept_at: float | None = None


class AdaptiveSampler:
    """Per-camera keep/drop decisions (module docs). Not thread-safe: call from one thread
    (the event loop)."""

    def __init__(
        self,
        policy: SamplerPolicy = DEFAULT_POLICY,
        *,
        clock: Clock = monotonic,
        metrics: OrchestratorMetrics | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._metrics = metrics
        self._cameras: dict[str, _CameraState] = {}

    def decide(
        self,
        camera_id: str,
        tier: PriorityTier,
        load: float,
        motion: float | None = None,
        now: float | None = None,
    ) -> SampleDecision:
        """Keep or drop the next frame of `camera_id`; `motion` None means unknown."""
        now = self._clock() if now is None else now
        state = self._cameras.setdefault(camera_id, _CameraState())
        base = stride_for(tier, load, self.policy)
        stride = base
        if base > 1 and motion is not None:
            if motion >= self.policy.motion_threshold:
                stride = max(1, math.ceil(base / 2))
            else:
                stride = base * 2
        # A camera's first frame is always kept, and none waits longer than max_gap_s.
        starving = state.last_kept_at is None or now - state.last_kept_at >= self.policy.max_gap_s
        if stride <= 1 or state.since_kept + 1 >= stride or starving:
            state.since_kept = 0
            state.last_kept_at = now
            return SampleDecision(True, stride)
        state.since_kept += 1
        # "static" when motion alone made the difference: kept at the base stride.
        reason = (
            DropReason.STATIC
            if stride > base and state.since_kept >= base
            else DropReason.LOAD_SHED
        )
        if self._metrics is not None:
            self._metrics.frames_dropped.labels(camera=camera_id, reason=reason.value).inc()
        return SampleDecision(False, stride, reason)

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it was removed or reconnected)."""
        self._cameras.pop(camera_id, None)
