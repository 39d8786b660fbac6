"""The store node's own settings (everything but the camera list), from the environment:
TRINETRA_STORE_ID, TRINETRA_NATS_URL, TRINETRA_TRITON__URL, TRINETRA_HEALTH_PORT, ..."""

from __future__ import annotations

from pydantic import Field

from orchestrator.tracking import TrackerConfig
from trinetra.inference import TritonSettings
from trinetra.settings import Settings


class NodeSettings(Settings):
    """The store node's settings (trinetra.settings.Settings: TRINETRA_ prefix, `__` for
    nested sections, a typo inside a section is an error)."""

    store_id: str = Field("store-1", pattern=r"^[A-Za-z0-9_-]+$", description="This store's id.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma separated.")
    triton: TritonSettings = Field(default_factory=TritonSettings, description="Triton access.")
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig, description="ByteTrack settings (frame rate per camera)."
    )
    health_host: str = Field("127.0.0.1", description="Address of /health, /ready, /metrics.")
    health_port: int = Field(9108, ge=0, le=65535, description="Port of the health endpoint.")
    max_in_flight: int = Field(
        8, ge=1, le=256, description="Frames at Triton at once, all cameras."
    )
    per_camera_in_flight: int = Field(
        3, ge=1, le=32, description="Frames of one camera awaiting results before it waits."
    )
    batch_window_ms: float = Field(
        5.0, ge=0, le=100, description="How long to gather frames from cameras into one batch."
    )
    max_batch: int = Field(8, ge=1, le=64, description="Frames per batch sent together.")
    track_update_every: int = Field(
        5, ge=1, le=1000, description="Publish track.updated every N frames a track is seen."
    )
    checkpoint_every_s: float = Field(
        5.0, gt=0, description="How often each camera's tracker state is saved to NATS KV."
    )
    identity_enabled: bool = Field(
        True, description="Send tracked faces to the store's identity service over NATS."
    )
    publish_detections: bool = Field(True, description="Publish a detections event per frame.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")
    log_level: str = Field("INFO", description="Root log level.")
