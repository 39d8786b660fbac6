"""Configuration of identity resolution: one Pydantic model per concern, `IdentityConfig`
on top. Every model forbids unknown keys, so a typo in a YAML file is an error, not a
silently ignored setting.

Defaults are the precision-first values of the design: cosine 0.72 per observation, a
5-observation vote with mean >= 0.74, 0.85 for companions, 500 ms tolerance on transits.
Those cosines were set for an ArcFace-R50 embedder; the identity service replaces them with
the calibration of the embedder version it runs (`EmbedderConfig`, `identity.calibration`)
wherever the configuration does not set them explicitly: `IdentityConfig.with_calibration`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from identity.calibration import EmbedderCalibration, default_repository
from identity.quality import QualityThresholds
from trinetra.inference.detections import EMBEDDING_DIM
from trinetra.inference.settings import TritonSettings

CameraId = Annotated[str, Field(min_length=1, max_length=128)]
MAX_VISIT_S: Final = 4 * 3600.0
Cosine = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ModelT = TypeVar("_ModelT", bound=_Config)


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
    local_mode_max_embeddings: int = Field(
        default=10_000,
        ge=1,
        description="Largest gallery local mode is meant for: past it, each search costs "
        "more than the 10 ms decision budget (exact search over every vector; perf/README.md "
        "has the figures) and the service logs a warning to move to the Qdrant server "
        "(HNSW, `url`). Nothing is refused.",
    )

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
    """What a photo must contain to be enrolled: one face passing the quality function
    (`ensembles.ops.face_quality`) with these gates. The pose gates are wider than the live
    ones (`QualityConfig`): a reference is taken once, by staff, and a slightly turned one
    (t1.jpg's man looking over his shoulder measures yaw 0.68) still matches its person;
    a profile is refused."""

    min_face_score: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Face detector confidence required."
    )
    min_face_size_px: int = Field(
        default=40, ge=1, description="Smallest accepted face box side, pixels."
    )
    max_yaw: float = Field(
        default=0.75,
        gt=0,
        description="Largest |yaw proxy| (nose offset along the eye line over the eye "
        "distance; about 0.6 tan(yaw), so 0.75 is about 50 degrees).",
    )
    max_roll_deg: float = Field(default=45.0, gt=0, description="Largest eye-line tilt.")
    min_pitch: float = Field(
        default=0.2, description="Pitch proxy range (about 0.5 frontal), lower end."
    )
    max_pitch: float = Field(default=1.0, description="Pitch proxy range, upper end.")
    max_photos: int = Field(
        default=3, ge=1, le=16, description="Photos one enrolment request may carry."
    )
    source_camera: str = Field(
        default="enrollment", min_length=1, description="Camera recorded for photo enrolments."
    )

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(
            min_size_px=float(self.min_face_size_px),
            min_score=self.min_face_score,
            max_yaw=self.max_yaw,
            max_roll_deg=self.max_roll_deg,
            min_pitch=self.min_pitch,
            max_pitch=self.max_pitch,
            min_blur=15.0,
        )


class QualityConfig(_Config):
    """Which observed faces may vote (`identity.quality`). Defaults are the ones measured
    with the default face detector and embedder (`ensembles/ops/face_quality.py`)."""

    min_size_px: float = Field(
        default=40.0,
        gt=0,
        description="Shorter side of the face box, px. Faces shrunk to 40 px keep a cosine "
        ">= 0.88 to their full-size embedding; 32 px 0.83, 24 px 0.56.",
    )
    min_score: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Detector score; faces of 37 px and more score 0.74-0.89, the 15-23 px "
        "crowd faces of players.jpg 0.50-0.67.",
    )
    max_yaw: float = Field(
        default=0.35,
        gt=0,
        description="|yaw proxy| (about 30 degrees); frontal faces measure up to 0.26.",
    )
    max_roll_deg: float = Field(default=40.0, gt=0, description="|roll|, degrees.")
    min_pitch: float = Field(
        default=0.25, description="Pitch proxy range, lower end (frontal 0.39-0.73)."
    )
    max_pitch: float = Field(default=0.85, description="Pitch proxy range, upper end.")
    min_blur: float = Field(
        default=15.0,
        ge=0,
        description="Variance of the Laplacian of the aligned crop, where the node sends "
        "one (sigma-1.5 blur on 100 px faces measures 14-49; sharp faces 43-2100).",
    )
    require_measurements: bool = Field(
        default=False,
        description="Refuse observations that carry no face measurements (otherwise they "
        "are taken as vetted by their sender).",
    )
    template_min_quality: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Quality score (face_quality's, 0-1) a face needs to update an adaptive "
        "template (customer EMA, track and visit templates); frontal faces of 100 px and "
        "more score 0.55-0.81.",
    )

    @model_validator(mode="after")
    def _pitch_range(self) -> Self:
        if self.min_pitch >= self.max_pitch:
            raise ValueError("min_pitch must be below max_pitch")
        return self

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(
            min_size_px=self.min_size_px,
            min_score=self.min_score,
            max_yaw=self.max_yaw,
            max_roll_deg=self.max_roll_deg,
            min_pitch=self.min_pitch,
            max_pitch=self.max_pitch,
            min_blur=self.min_blur,
            require_measurements=self.require_measurements,
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


class ConsistencyConfig(_Config):
    """One track, one person: the vote stops when a track's faces point to two people, and
    the ID-switch reconciler lets an identity follow its face across tracker ids."""

    enabled: bool = Field(default=True, description="Check track consistency at all.")
    min_similarity: Cosine = Field(
        default=0.3,
        description="A new face scoring below this against the track's running template is "
        "someone else: the track is contradicted (unless the reconciler finds where the "
        "face went). From the embedder's calibration unless set.",
    )
    template_alpha: float = Field(
        default=0.2, gt=0, lt=1, description="EMA weight of a new face in the track template."
    )
    reconcile: bool = Field(
        default=True,
        description="ID-switch reconciliation: a face that left its track's template but "
        "matches another track of the same camera (live, or ended within "
        "`reconcile_window_s`) takes that track's identity along.",
    )
    reconcile_window_s: float = Field(
        default=10.0, gt=0, description="How long an ended track's face state waits."
    )
    reconcile_min_score: Cosine = Field(
        default=0.74,
        description="Score the face needs against the other track's template (the "
        "calibration's vote mean unless set).",
    )


class VisitConfig(_Config):
    """Anonymous visitors: an in-memory, visit-scoped gallery of face templates that links
    the tracks of one unknown person across cameras within one visit (`identity.visits`).
    Linking votes like identity resolution (match threshold, window, majority, mean,
    runner-up margin, spatiotemporal gate, contradictions)."""

    enabled: bool = Field(default=True, description="Link anonymous tracks into visits.")
    gap_s: float = Field(
        default=1800.0,
        gt=0,
        le=MAX_VISIT_S,
        description="A visit unseen this long has ended: its templates are deleted.",
    )
    max_duration_s: float = Field(
        default=MAX_VISIT_S,
        gt=0,
        le=MAX_VISIT_S,
        description="Templates are deleted this long after a visit began, seen or not.",
    )
    template_alpha: float = Field(
        default=0.1, gt=0, lt=1, description="EMA weight of a linked track's face."
    )
    max_visits: int = Field(
        default=20_000, ge=1, description="Visits kept at once; the least recent go first."
    )
    recheck_windows: int = Field(
        default=1,
        ge=0,
        le=10,
        description="Windows a track that started a new visit keeps voting among the other "
        "visits, so that one person first seen by two overlapping cameras at once ends up "
        "with one visit (the younger is merged into the older).",
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


class EmbedderConfig(_Config):
    """Which face_embedder version produced the gallery, and whose calibration applies."""

    model: str = Field(default="face_embedder", min_length=1, description="Triton model.")
    version: int = Field(
        default=1,
        ge=1,
        description="The version this service enrols with (pinned on its own pipeline "
        "calls) and accepts observations from; the gallery holds this version only.",
    )
    repository: Path | None = Field(
        default=None,
        description="Model repository holding <model>/<version>/calibration.json; default "
        "the checkout's model_repository/.",
    )
    calibrated: bool = Field(
        default=True,
        description="Take the thresholds not set here from the version's calibration file.",
    )

    @property
    def repository_path(self) -> Path:
        return self.repository if self.repository is not None else default_repository()


class IdentityConfig(_Config):
    """Everything identity resolution needs."""

    gallery: GalleryConfig = Field(default_factory=GalleryConfig, description="Face gallery.")
    enrollment: EnrollmentConfig = Field(
        default_factory=EnrollmentConfig, description="Enrolment photo checks."
    )
    quality: QualityConfig = Field(
        default_factory=QualityConfig, description="Which observed faces may vote."
    )
    match: MatchConfig = Field(default_factory=MatchConfig, description="Matching and voting.")
    consistency: ConsistencyConfig = Field(
        default_factory=ConsistencyConfig, description="Track consistency, ID switches."
    )
    visits: VisitConfig = Field(
        default_factory=VisitConfig, description="Anonymous visit-scoped linking."
    )
    embedder: EmbedderConfig = Field(
        default_factory=EmbedderConfig, description="Embedder version and calibration."
    )
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

    def with_calibration(self, calibration: EmbedderCalibration) -> IdentityConfig:
        """This configuration with the calibration's thresholds wherever it sets none
        explicitly (match threshold, vote mean, companion threshold, track consistency,
        reconciliation score, drift baseline)."""

        def unset(model: BaseModel, name: str) -> bool:
            return name not in model.model_fields_set

        match: dict[str, object] = {}
        if unset(self.match, "threshold"):
            match["threshold"] = calibration.match_threshold
        if unset(self.match, "accept_mean"):
            match["accept_mean"] = calibration.accept_mean
        if unset(self.match, "companion_threshold"):
            match["companion_threshold"] = calibration.companion_threshold
        consistency: dict[str, object] = {}
        if unset(self.consistency, "min_similarity"):
            consistency["min_similarity"] = calibration.consistency_threshold
        if unset(self.consistency, "reconcile_min_score"):
            consistency["reconcile_min_score"] = calibration.accept_mean
        drift: dict[str, object] = {}
        if unset(self.drift, "baseline_mean") and calibration.genuine_median is not None:
            drift["baseline_mean"] = calibration.genuine_median
        return self.model_copy(
            update={
                "match": _updated(self.match, match),
                "consistency": _updated(self.consistency, consistency),
                "drift": _updated(self.drift, drift),
            }
        )


def _updated(model: _ModelT, changes: dict[str, object]) -> _ModelT:
    """A validated copy of `model` with `changes`, keeping which fields were set."""
    if not changes:
        return model
    data = model.model_dump(exclude_unset=True) | changes
    updated = type(model).model_validate(data)
    # The calibrated values count as defaults: a second calibration may replace them.
    object.__setattr__(updated, "__pydantic_fields_set__", set(model.model_fields_set))
    return updated


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
    health_host: str = Field(
        default="127.0.0.1", description="Address of /health, /ready, /metrics."
    )
    health_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /health, /ready, /metrics (trinetra.health; 0: any free one). "
        "None: no endpoint, for a service embedded in another process; deploy/identity.yaml "
        "serves 9109.",
    )
    identity: IdentityConfig = Field(
        default_factory=IdentityConfig, description="Identity resolution settings."
    )
