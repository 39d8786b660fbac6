"""The analytics service's settings, from `TRINETRA_*` environment variables
(`trinetra.settings.Settings`): `TRINETRA_STORE_ID`, `TRINETRA_NATS_URL`,
`TRINETRA_PARTITION`, `TRINETRA_PARTITIONS`, `TRINETRA_ENGINE__TRACK_TIMEOUT_S`, ...
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from analytics.alerts.settings import AlertingSettings
from analytics.config import EngineSettings
from trinetra.config.analytics import STORE_ID_PATTERN
from trinetra.events.schema import MAX_HEATMAP_CELLS
from trinetra.settings import Settings

__all__ = ["AnalyticsSettings", "ServiceEngineSettings"]


class ServiceEngineSettings(EngineSettings):
    """The engine's knobs as the service runs them: the engine's defaults, except the
    track timeout."""

    track_timeout_s: float = Field(
        default=10.0,
        gt=0.0,
        description="A track not seen for this long (frame time) is ended, its stays closed "
        "at its last sighting. The service ends tracks on this timeout alone "
        "(analytics.processor explains why), so it is the tracker's patience plus a margin "
        "rather than the engine's cautious 30 s: ByteTrack gives up on a lost track after "
        "about a second of frames at the nominal rate, ~10 s when the node thins a camera "
        "to 1 fps under load.",
    )


class AnalyticsSettings(Settings):
    """One analytics process: which store, which partition of its cameras, where NATS is."""

    store_id: str = Field(pattern=STORE_ID_PATTERN, description="The store this process serves.")
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL.")
    partition: int = Field(
        default=0, ge=0, description="This process's partition index, 0..partitions-1."
    )
    partitions: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="How many processes split the store's cameras (analytics.partition); "
        "exactly one process runs each partition.",
    )
    checkpoint_interval_s: float = Field(
        default=5.0,
        gt=0.0,
        le=3600.0,
        description="Wall-clock seconds between checkpoints of engine state and stream "
        "position. Messages are acknowledged only once a checkpoint covers them; a restart "
        "replays (and the stream dedupes) at most this much.",
    )
    checkpoint_max_messages: int = Field(
        default=20_000,
        ge=1,
        description="Checkpoint early after this many messages, so unacknowledged messages "
        "stay well below the consumer's max_ack_pending.",
    )
    fetch_batch: int = Field(
        default=256, ge=1, le=10_000, description="Messages per JetStream pull request."
    )
    fetch_timeout_s: float = Field(
        default=0.5, gt=0.0, le=30.0, description="How long one pull waits for messages."
    )
    max_unpublished_events: int = Field(
        default=50_000,
        ge=100,
        description="Analytics events waiting for JetStream above which the service stops "
        "reading until they are stored (nothing is dropped: an event lost after its "
        "checkpoint could never be re-made).",
    )
    durable_prefix: str = Field(
        default="analytics",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Prefix of the durable consumer names (<prefix>-<store>-p<i>-of-<n>).",
    )
    health_host: str = Field(default="127.0.0.1", description="Address of /health, /metrics.")
    health_port: int = Field(
        default=9110, ge=0, le=65535, description="Port of /health, /ready, /metrics (0: any)."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="JSON log lines (False: readable text).")
    engine: ServiceEngineSettings = Field(
        default_factory=ServiceEngineSettings,
        description="Engine knobs (hysteresis, dead bands, timeouts, heatmap grid).",
    )
    alerts: AlertingSettings = Field(
        default_factory=AlertingSettings,
        description="Alert rules and webhooks (analytics/alerts); run by partition 0 only, "
        "so each store's alerts are judged once.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.partition >= self.partitions:
            raise ValueError(f"partition {self.partition} is not in 0..{self.partitions - 1}")
        cells = self.engine.heatmap_cols * self.engine.heatmap_rows
        if cells > MAX_HEATMAP_CELLS:
            raise ValueError(
                f"a heatmap grid of {cells} cells is over the event schema's {MAX_HEATMAP_CELLS}"
            )
        return self
