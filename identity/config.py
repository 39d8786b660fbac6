"""Configuration of identity resolution: one Pydantic model per concern, `IdentityConfig`
on top. Every model forbids unknown keys, so a typo in a YAML file is an error, not a
silently ignored setting.

Defaults are the precision-first values of the design: cosine 0.72 per observation, a
5-observation vote with mean >= 0.74, 0.85 for companions, 500 ms tolerance on transits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trinetra.inference.detections import EMBEDDING_DIM
from trinetra.inference.settings import TritonSettings

CameraId = Annotated[str, Field(min_length=1, max_length=128)]
Cosine = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GalleryConfig(_Config):
    """Where the face gallery lives. Configuration alone chooses embedded or server mode."""

    url: str | None = Field(
        default=None,
        description="Qdrant server URL (production), e.g. http://qdrant:6333. When set, "
        "`path` must be left unset.",
    )
    path: str | None = Field(
        default=None,
        description="Embedded (local) mode storage folder, or ':memory:'. Local mode allows "
        "one client per folder, so one identity service process owns it. Used when `url` "
        "is unset; defaults to var/identity/gallery.",
    )
    api_key_env: str = Field(
        default="QDRANT_API_KEY",
        description="Environment variable holding the server API key (server mode only; "
        "unset variable = no key).",
    )
    collection: str = Field(
        default="faces", min_length=1, max_length=255, description="Qdrant collection name."
    )
    vector_size: int = Field(default=EMBEDDING_DIM, ge=1, description="Embedding dimension.")
    max_embeddings_per_customer: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Slots per customer; enrolling into a full customer replaces the oldest.",
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Server request timeout.")

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if self.url is not None and self.path is not None:
            raise ValueError("set either url (server mode) or path (local mode), not both")
        return self

    @property
    def local_path(self) -> str:
        """The local-mode location (only meaningful when `url` is None)."""
        return self.path if self.path is not None else "var/identity/gallery"


class EnrollmentConfig(_Config):
    """What a photo must contain to be enrolled."""

    min_face_score: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Face detector confidence required."
    )
    min_face_size_px: int = Field(
        default=40, ge=1, description="Smallest accepted face box side, pixels."
    )
    source_camera: str = Field(
        default="enrollment", min_length=1, description="Camera recorded for photo enrolments."
    )


class MatchConfig(_Config):
    """Per-observation matching and per-track voting."""

    threshold: Cosine = Field(
        default=0.72, description="Cosine similarity an observation needs to vote for anyone."
    )
    camera_offsets: dict[CameraId, Annotated[float, Field(ge=-0.2, le=0.2)]] = Field(
        default_factory=dict,
        description="Per-camera change of `threshold` (e.g. -0.03 for a known-difficult "
        "camera); also applied to `companion_threshold`.",
    )
    companion_threshold: Cosine = Field(
        default=0.85, description="Threshold for tracks moving together with another track."
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Customers retrieved per search.")
    runner_up_margin: float = Field(
        default=0.03,
        ge=0.0,
        le=0.5,
        description="An observation whose best and second-best customers (both above the "
        "threshold) are closer than this is ambiguous and votes for no one.",
    )
    window: int = Field(default=5, ge=1, le=100, description="Voting window, observations.")
    min_votes: int | None = Field(
        default=None,
        ge=1,
        description="Votes the winner needs in a full window; default a strict majority.",
    )
    accept_mean: Cosine = Field(
        default=0.74, description="Mean score of the winner's votes required to accept."
    )

    @model_validator(mode="after")
    def _votes_fit(self) -> Self:
        if self.min_votes is not None and self.min_votes > self.window:
            raise ValueError("min_votes cannot exceed window")
        return self

    @property
    def required_votes(self) -> int:
        return self.min_votes if self.min_votes is not None else self.window // 2 + 1

    def threshold_for(self, camera_id: str, *, companion: bool = False) -> float:
        offset = self.camera_offsets.get(camera_id, 0.0)
        base = self.threshold + offset
        return max(base, self.companion_threshold + offset) if companion else base


class TransitConfig(_Config):
    """Minimum time to walk between two cameras' fields of view."""

    camera_a: CameraId = Field(description="One camera.")
    camera_b: CameraId = Field(description="The other camera.")
    min_transit_s: float = Field(
        ge=0.0, allow_inf_nan=False, description="Fastest possible walk between them."
    )
    bidirectional: bool = Field(default=True, description="Also applies from camera_b to camera_a.")
    overlapping: bool = Field(
        default=False,
        description="The cameras see a common area: one person may be on both at once.",
    )


class TopologyConfig(_Config):
    """The store's camera graph for the spatiotemporal gate and the false-merge check."""

    transits: tuple[TransitConfig, ...] = Field(default=(), description="Camera pairs.")
    tolerance_s: float = Field(
        default=0.5,
        ge=0.0,
        description="Clock skew allowance between cameras: transitions this much faster "
        "than the minimum still pass; on one camera, tracks overlapping by up to this much "
        "are not simultaneous.",
    )
    default_min_transit_s: float = Field(
        default=0.0,
        ge=0.0,
        description="Minimum transit assumed for a pair of different cameras not listed.",
    )


class CompanionConfig(_Config):
    """Tracks that move together (co-located boxes over time on one camera)."""

    enabled: bool = Field(default=True, description="Detect companions at all.")
    iou_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Boxes overlapping this much are together."
    )
    max_center_distance: float = Field(
        default=1.5,
        ge=0.0,
        description="Boxes whose centres are within this many (mean) box widths are together "
        "(side by side, not overlapping).",
    )
    time_tolerance_s: float = Field(
        default=0.25, gt=0, description="Observations this close in time are simultaneous."
    )
    window_s: float = Field(default=10.0, gt=0, description="How far back co-location counts.")
    min_co_observations: int = Field(
        default=5, ge=1, description="Simultaneous observations needed to judge a pair."
    )
    min_fraction: float = Field(
        default=0.8, gt=0, le=1.0, description="Share of them that must be co-located."
    )


class RegistryConfig(_Config):
    """The active identity registry, adaptive templates and the encrypted snapshot."""

    ttl_s: float = Field(
        default=1800.0, gt=0, description="An identity unseen this long leaves the registry."
    )
    track_ttl_s: float = Field(
        default=30.0, gt=0, description="A track unseen this long is forgotten (ended)."
    )
    ema_enabled: bool = Field(
        default=True, description="Keep an adaptive (EMA) template per active identity."
    )
    ema_alpha: float = Field(default=0.1, gt=0, lt=1, description="EMA weight of a new sample.")
    ema_min_score: Cosine = Field(
        default=0.85, description="Only matches above this update the template."
    )
    camera_normalization: bool = Field(
        default=False,
        description="Subtract a running per-camera mean embedding (and re-normalize) before "
        "matching, against lighting/viewpoint bias.",
    )
    camera_mean_min_samples: int = Field(
        default=50, ge=1, description="Observations before a camera's mean is applied."
    )
    camera_mean_max_samples: int = Field(
        default=10_000,
        ge=1,
        description="The running mean weights at most this many recent samples.",
    )
    snapshot_path: Path | None = Field(
        default=None,
        description="Encrypted snapshot of templates and camera means (requires "
        "TRINETRA_EMBEDDING_KEY); None keeps them in memory only.",
    )
    snapshot_interval_s: float = Field(
        default=60.0, gt=0, description="How often the service writes the snapshot."
    )


class DriftConfig(_Config):
    """Rolling mean match score per camera against a baseline."""

    enabled: bool = Field(default=True, description="Monitor drift.")
    baseline_mean: Cosine = Field(
        default=0.81,
        description="Mean match score expected (measured on the validation set at go-live).",
    )
    margin: float = Field(
        default=0.08, gt=0, le=1, description="Alert when the mean drops more than this."
    )
    window: int = Field(default=1000, ge=1, description="Scores in the rolling window.")
    min_samples: int = Field(default=100, ge=1, description="Scores before judging.")


class AuditConfig(_Config):
    """The append-only audit log of gallery access."""

    path: Path = Field(
        default=Path("var/identity/audit.jsonl"), description="JSON lines audit file."
    )
    fsync: bool = Field(
        default=False, description="fsync after every record (slower, survives power loss)."
    )


class IdentityConfig(_Config):
    """Everything identity resolution needs."""

    gallery: GalleryConfig = Field(default_factory=GalleryConfig, description="Face gallery.")
    enrollment: EnrollmentConfig = Field(
        default_factory=EnrollmentConfig, description="Enrolment photo checks."
    )
    match: MatchConfig = Field(default_factory=MatchConfig, description="Matching and voting.")
    topology: TopologyConfig = Field(
        default_factory=TopologyConfig, description="Camera graph for the gates."
    )
    companions: CompanionConfig = Field(
        default_factory=CompanionConfig, description="Companion detection."
    )
    registry: RegistryConfig = Field(
        default_factory=RegistryConfig, description="Active identities and templates."
    )
    drift: DriftConfig = Field(default_factory=DriftConfig, description="Drift monitor.")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Audit log.")


class ServiceConfig(_Config):
    """The identity service process."""

    store_id: str = Field(min_length=1, max_length=128, description="Store this service serves.")
    nats_servers: tuple[str, ...] = Field(
        default=("nats://127.0.0.1:4222",), min_length=1, description="NATS servers."
    )
    actor: str = Field(
        default="identity-service",
        min_length=1,
        description="Actor recorded in the audit log for automatic gallery reads.",
    )
    triton: TritonSettings = Field(
        default_factory=TritonSettings, description="How to reach vision_pipeline."
    )
    max_photo_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1, description="Largest photo accepted for enrolment."
    )
    identity: IdentityConfig = Field(
        default_factory=IdentityConfig, description="Identity resolution settings."
    )
