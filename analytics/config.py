"""Engine knobs that are about the problem (tracker noise, frame rates), not the store.

The store's configuration (zones, lines, funnels) is a contract shared with the gateway
and lives in `trinetra.config.analytics`; these settings belong to whoever runs the
engine (the analytics service's environment, a benchmark), so they stay here.
"""

from __future__ import annotations

from pydantic import Field

from trinetra.settings import ConfigModel


class EngineSettings(ConfigModel):
    """Engine knobs that are about the problem (tracker noise, frame rates), not the store.

    Defaults are tuned for person trackers at 5-30 fps with detector jitter of a few
    percent of the box height, and checked against ground truth by
    `perf/bench_analytics_accuracy.py`.
    """

    min_frames_inside: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive observations inside a zone before a track enters it. The "
        "stay is back-dated to the first of them, so the delay does not shorten dwell.",
    )
    min_frames_outside: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive observations outside a zone before a track leaves it; "
        "back-dated to the first of them.",
    )
    min_crossing_frames: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive observations on the new side of a line before a crossing "
        "is committed (a foot point jittering across the line never gets there).",
    )
    min_crossing_displacement: float = Field(
        default=0.01,
        ge=0.0,
        le=0.5,
        description="Least distance beyond a line, as a fraction of the frame height, before "
        "a crossing is committed (floor under crossing_band_box_heights for tiny boxes).",
    )
    crossing_band_box_heights: float = Field(
        default=0.12,
        ge=0.0,
        le=2.0,
        description="Least distance beyond a line, in heights of the person's own box, before "
        "a crossing is committed. Detector jitter grows with the box, so the dead band does "
        "too: near and far people get the same protection.",
    )
    crossing_segment_margin: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="How far past its endpoints (in line lengths) a line still counts a "
        "crossing; passing further out around its end is not a crossing.",
    )
    track_timeout_s: float = Field(
        default=30.0,
        gt=0.0,
        description="A track not seen for this long is ended as if track_ended arrived "
        "(reason 'timeout'), so a lost end message cannot leave stays open forever.",
    )
    visit_timeout_s: float = Field(
        default=300.0,
        gt=0.0,
        description="A linked visit (visit_id shared across cameras) ends this long after "
        "its last track ended without anyone crossing out.",
    )
    heatmap_cols: int = Field(default=32, ge=1, le=256, description="Heatmap grid columns.")
    heatmap_rows: int = Field(default=24, ge=1, le=256, description="Heatmap grid rows.")
    heatmap_max_gap_s: float = Field(
        default=1.0,
        gt=0.0,
        description="Longest gap between two observations of a track (or two frames of a "
        "camera) still used for flow vectors and person-seconds; longer gaps are capped.",
    )
    queue_service_samples: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Service intervals (time per served customer) whose median gives the "
        "queue's estimated wait.",
    )
    queue_service_window_s: float = Field(
        default=900.0,
        gt=0.0,
        description="Service intervals older than this are forgotten (the checkout may have "
        "changed staff since).",
    )
    queue_abandon_after_s: float = Field(
        default=20.0,
        gt=0.0,
        description="Someone leaving a queue zone who does not enter one of its checkout "
        "zones within this long has abandoned the queue.",
    )
    queue_snapshot_interval_s: float = Field(
        default=1.0,
        ge=1.0,
        le=3600.0,
        description="Frame time between queue snapshots (the engine's periodic work runs "
        "once per second of frame time, so one second is the finest).",
    )
