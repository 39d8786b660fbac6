"""Tracker settings, validated once at startup so a typo fails loudly instead of silently
running the defaults."""

from __future__ import annotations

from pydantic import Field, model_validator

from trinetra.settings import ConfigModel


class TrackerConfig(ConfigModel):
    """ByteTrack knobs; the defaults are the original paper's settings for pedestrians."""

    track_high_thresh: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Detections scoring at least this take part in the first association "
        "against all tracked and lost tracks.",
    )
    track_low_thresh: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Detections scoring at least this but below track_high_thresh may only "
        "extend tracks that are still being followed (second association); lower scores are "
        "dropped as background.",
    )
    new_track_thresh: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="An unmatched high detection must score at least this to start a track.",
    )
    match_thresh: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="Largest IoU cost (1 - IoU, score-fused when fuse_score) accepted in the "
        "first association.",
    )
    second_match_thresh: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Largest IoU cost accepted when matching low-score detections.",
    )
    unconfirmed_match_thresh: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Largest IoU cost accepted when matching tracks seen in one frame only.",
    )
    duplicate_thresh: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="A tracked and a lost track closer than this IoU cost are taken for one "
        "person and the one followed for fewer frames is dropped. The original uses 0.15, "
        "which also merges people walking past where an occluded person was last seen; "
        "0.05 (as supervision) scores better IDF1 on crowded scenes.",
    )
    track_buffer: int = Field(
        default=30,
        ge=0,
        description="Frames (at 30 fps) a lost track is kept for re-identification before "
        "it ends; scaled by frame_rate / 30.",
    )
    frame_rate: float = Field(
        default=30.0,
        gt=0.0,
        description="Frame rate of the stream being tracked, in frames per second.",
    )
    fuse_score: bool = Field(
        default=True,
        description="Multiply IoU by detection score in the first and unconfirmed "
        "associations so confident boxes win ties.",
    )

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> TrackerConfig:
        if self.track_low_thresh > self.track_high_thresh:
            raise ValueError("track_low_thresh must not exceed track_high_thresh")
        if self.new_track_thresh < self.track_high_thresh:
            raise ValueError("new_track_thresh must be at least track_high_thresh")
        return self

    @property
    def max_time_lost(self) -> int:
        """Frames a lost track survives, the original's int(frame_rate / 30 * track_buffer)."""
        return int(self.frame_rate / 30.0 * self.track_buffer)
