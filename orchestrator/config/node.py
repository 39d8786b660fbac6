"""The store node's own settings (everything but the camera list), from the environment:
TRINETRA_STORE_ID, TRINETRA_NATS_URL, TRINETRA_TRITON__URL, TRINETRA_HEALTH_PORT, ..."""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import Field, model_validator

from orchestrator.tracking import TrackerConfig
from trinetra.inference import TritonSettings
from trinetra.settings import Settings

InferenceProfile = Literal["gpu", "cpu"]

# The inference deadline a profile implies when TRINETRA_TRITON__CALL_TIMEOUT_S is unset. A
# GPU answers a batch in tens of milliseconds, so 5 s means the server is in trouble. The
# CPU Triton (triton/cpu_server.py) takes seconds once cameras queue behind each other:
# perf/bench_orchestrator.py measured a p99 frame-to-JetStream latency of 3.7 s with four
# 5 fps cameras on two cores, so 5 s left no headroom and a busier node timed out.
PROFILE_CALL_TIMEOUT_S: Final[dict[InferenceProfile, float]] = {"gpu": 5.0, "cpu": 30.0}


class NodeSettings(Settings):
    """The store node's settings (trinetra.settings.Settings: TRINETRA_ prefix, `__` for
    nested sections, a typo inside a section is an error)."""

    store_id: str = Field("store-1", pattern=r"^[A-Za-z0-9_-]+$", description="This store's id.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma separated.")
    inference_profile: InferenceProfile = Field(
        "gpu",
        description="The Triton this node talks to: `gpu` (production) or `cpu` (the CPU "
        "profile of triton/cpu_server.py). Chooses the default inference deadline "
        "(triton.call_timeout_s: 5 s on gpu, 30 s on cpu); a deadline set explicitly wins.",
    )
    triton: TritonSettings = Field(
        default_factory=TritonSettings,
        description="Triton access (call_timeout_s defaults from inference_profile).",
    )
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
    camera_registry: bool = Field(
        True,
        description="Run the cameras of the NATS KV camera registry (CAMERA_REGISTRY, "
        "written by the gateway), applied live; the camera file seeds it "
        "(orchestrator/registry.py). False: run the camera file's cameras only.",
    )
    registry_wait_s: float = Field(
        5.0,
        ge=0,
        le=120,
        description="At start, how long to wait for the registry before running the camera "
        "file's cameras (they are replaced by the registry's once it answers).",
    )
    status_every_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="How often each running camera's status is re-reported (the gateway "
        "counts a camera unreported for 3 periods as not running).",
    )
    identity_enabled: bool = Field(
        True, description="Send tracked faces to the store's identity service over NATS."
    )
    publish_detections: bool = Field(True, description="Publish a detections event per frame.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")
    log_level: str = Field("INFO", description="Root log level.")

    @model_validator(mode="after")
    def _profile_deadline(self) -> Self:
        if "call_timeout_s" not in self.triton.model_fields_set:
            deadline = PROFILE_CALL_TIMEOUT_S[self.inference_profile]
            # Frozen settings: replaced once here, while the model is being built.
            object.__setattr__(
                self, "triton", self.triton.model_copy(update={"call_timeout_s": deadline})
            )
        return self
