"""The analytics service's Prometheus metrics (on the registry it is given)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AnalyticsMetrics"]

# Engine + conversion cost of one frame: ~20 us for a quiet camera to a few ms for a
# crowded frame that closes a heatmap minute.
_FRAME_BUCKETS = (2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2)


class AnalyticsMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "trinetra_analytics_messages",
            "DETECTIONS messages read, by outcome: processed, not_ours (another partition's "
            "camera), replayed (at or below the checkpoint), invalid (not a detections "
            "event of this store), failed (the engine raised: a bug; the frame is skipped).",
            ["outcome"],
            registry=r,
        )
        self.frames = Counter(
            "trinetra_analytics_frames_processed",
            "Frames run through the engine, per camera.",
            ["camera"],
            registry=r,
        )
        self.events = Counter(
            "trinetra_analytics_events_emitted",
            "Analytics events handed to the publisher, by kind.",
            ["kind"],
            registry=r,
        )
        self.frame_seconds = Histogram(
            "trinetra_analytics_frame_seconds",
            "Engine and conversion time per frame (decode excluded).",
            buckets=_FRAME_BUCKETS,
            registry=r,
        )
        self.lag_seconds = Gauge(
            "trinetra_analytics_lag_seconds",
            "Wall clock minus the frame time of the newest frame processed.",
            registry=r,
        )
        self.consumer_pending = Gauge(
            "trinetra_analytics_consumer_pending",
            "DETECTIONS messages not yet delivered to this partition (at the last check).",
            registry=r,
        )
        self.checkpoints = Counter(
            "trinetra_analytics_checkpoints",
            "Checkpoint attempts by result (ok, publish_timeout, error).",
            ["result"],
            registry=r,
        )
        self.checkpoint_age_seconds = Gauge(
            "trinetra_analytics_checkpoint_age_seconds",
            "Seconds since the last checkpoint was written.",
            registry=r,
        )
        self.checkpoint_seconds = Gauge(
            "trinetra_analytics_checkpoint_seconds",
            "How long the last checkpoint took (flush, snapshot, write, ack); the partition "
            "processes nothing meanwhile.",
            registry=r,
        )
        self.checkpoint_bytes = Gauge(
            "trinetra_analytics_checkpoint_bytes",
            "Compressed size of the last checkpoint.",
            registry=r,
        )
        self.config_version = Gauge(
            "trinetra_analytics_config_version",
            "Version of the analytics configuration in force (0: none yet).",
            registry=r,
        )
        self.config_refused = Counter(
            "trinetra_analytics_config_refused",
            "Configurations from ANALYTICS_CONFIG refused (invalid, other store, older).",
            registry=r,
        )
