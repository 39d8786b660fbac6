"""Frame-level policies between the camera workers and inference: validation, motion
scoring, burst suppression and adaptive, priority-aware sampling. All pure and
deterministic (injectable clocks), independent of the camera sources."""

from orchestrator.frames.burst import BurstSuppressor
from orchestrator.frames.clock import Clock, ManualClock
from orchestrator.frames.motion import MotionScorer, motion_score, thumbnail
from orchestrator.frames.sampler import (
    AdaptiveSampler,
    DropReason,
    SampleDecision,
    SamplerPolicy,
    load_ratio,
    stride_for,
)
from orchestrator.frames.validation import (
    DEFAULT_THRESHOLDS,
    FrameValidator,
    RejectReason,
    ValidationThresholds,
    check_frame,
    decode_jpeg,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "AdaptiveSampler",
    "BurstSuppressor",
    "Clock",
    "DropReason",
    "FrameValidator",
    "ManualClock",
    "MotionScorer",
    "RejectReason",
    "SampleDecision",
    "SamplerPolicy",
    "ValidationThresholds",
    "check_frame",
    "decode_jpeg",
    "load_ratio",
    "motion_score",
    "stride_for",
    "thumbnail",
]
