"""Thresholds belong to the model: the calibration file of one `face_embedder` version.

Every version folder of the embedder carries `calibration.json` next to its weights
(`model_repository/face_embedder/<N>/calibration.json`), written by
`python -m identity.calibrate --target-far ...` from labelled pairs. It holds the cosine
thresholds the gate uses for embeddings of that version and where they came from: the
labelled data, the target false-accept rate, what the data can actually claim about it
(a Clopper-Pearson bound), and the expected recall with its interval.

The identity service loads the file of the version it is configured for
(`identity.embedder.version`), pins that version for its own enrolments, and refuses
observations embedded by another version (`identity.gate`): scores of two embedders are
not comparable, so one gallery holds one version. `calibrated` puts the file's values
into the configuration wherever the operator did not set a value explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CALIBRATION_FILE: Final = "calibration.json"
FORMAT: Final = 1

Cosine = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FarClaim(_Model):
    """What the impostor pairs support about the false-accept rate at `match_threshold`."""

    target_far: Rate = Field(description="False-accept rate per comparison aimed for.")
    confidence: Rate = Field(description="Confidence of the bounds, e.g. 0.95.")
    impostor_pairs: int = Field(ge=0, description="Different-person pairs scored.")
    false_accepts: int = Field(ge=0, description="Of them, at or above the match threshold.")
    far_upper_bound: Rate = Field(
        description="One-sided Clopper-Pearson upper bound of the FAR at the threshold: "
        "the strongest claim the data supports."
    )
    target_supported: bool = Field(
        description="far_upper_bound <= target_far: the data alone shows the target."
    )
    impostor_pairs_needed: int = Field(
        ge=1, description="Impostor pairs without a false accept needed to show the target."
    )
    basis: Literal["observed", "normal_tail"] = Field(
        description="observed: the threshold is where the data shows the target; "
        "normal_tail: the data cannot, so the threshold is the target's quantile of a normal "
        "fit of the impostor scores (an extrapolation, not a measured rate), never below "
        "the highest impostor score."
    )


class RecallEstimate(_Model):
    """Share of same-person pairs at or above the match threshold, single comparisons."""

    genuine_pairs: int = Field(ge=0, description="Same-person pairs scored.")
    accepted: int = Field(ge=0, description="Of them, at or above the threshold.")
    recall: Rate = Field(description="accepted / genuine_pairs.")
    lower: Rate = Field(description="Two-sided Clopper-Pearson interval, lower end.")
    upper: Rate = Field(description="Two-sided Clopper-Pearson interval, upper end.")


class ImpostorTail(_Model):
    """The normal fit of the impostor scores' upper tail (through their 95th and 99th
    percentiles), used to extrapolate below 1 / pairs."""

    mean: Cosine = Field(description="Mean of the fitted normal.")
    sd: float = Field(ge=0.0, allow_inf_nan=False, description="Its standard deviation.")
    max: Cosine = Field(description="Highest impostor score observed.")


class CalibrationData(_Model):
    """Provenance of the labelled pairs."""

    name: str = Field(min_length=1, description="Which labelled set.")
    description: str = Field(default="", description="Source, licence, how it was labelled.")
    identities: int | None = Field(default=None, ge=0, description="People in the set.")
    photos: int | None = Field(default=None, ge=0, description="Photos in the set.")


class EmbedderCalibration(_Model):
    """The calibration file of one embedder version (module docs)."""

    format: Literal[1] = Field(default=FORMAT, description="Version of this file's layout.")
    model: str = Field(default="face_embedder", min_length=1, description="Triton model name.")
    version: int = Field(ge=1, description="Model version folder the thresholds are for.")
    weights_sha256: str | None = Field(
        default=None, description="sha256 of the model file calibrated (weights.toml)."
    )
    match_threshold: Cosine = Field(description="Score one observation needs to vote.")
    accept_mean: Cosine = Field(
        description="Mean score of the winning votes needed to accept (the threshold at a "
        "10x lower false-accept rate)."
    )
    companion_threshold: Cosine = Field(
        description="Score needed on tracks moving with another person (1000x lower FAR)."
    )
    consistency_threshold: Cosine = Field(
        description="A track's new face scoring below this against the track's own "
        "running template is someone else (the track is contradicted)."
    )
    genuine_median: Cosine | None = Field(
        default=None,
        description="Median same-person score: the drift monitor's expected mean match "
        "score unless configured.",
    )
    far: FarClaim = Field(description="The false-accept claim at match_threshold.")
    recall: RecallEstimate = Field(description="Expected single-comparison recall.")
    tail: ImpostorTail = Field(description="Impostor score fit used for extrapolation.")
    data: CalibrationData = Field(description="Where the labelled pairs came from.")
    produced_by: str = Field(min_length=1, description="The command that wrote this file.")
    produced_at: AwareDatetime = Field(description="When.")
    notes: tuple[str, ...] = Field(default=(), description="Caveats, in words.")


class CalibrationError(RuntimeError):
    """No usable calibration for the configured embedder version."""


def default_repository() -> Path:
    """The checkout's `model_repository/` (this package sits beside it)."""
    return Path(__file__).resolve().parent.parent / "model_repository"


def calibration_path(repository: Path, model: str, version: int) -> Path:
    return repository / model / str(version) / CALIBRATION_FILE


def load_calibration(
    path: Path, *, model: str | None = None, version: int | None = None
) -> EmbedderCalibration:
    """Read and validate a calibration file; CalibrationError when it is missing, invalid
    or made for another model/version than asked."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(
            f"no calibration at {path} ({exc.strerror}): calibrate this embedder version "
            "with `python -m identity.calibrate --target-far ...` (model_repository/README.md)"
        ) from None
    try:
        calibration = EmbedderCalibration.model_validate_json(text)
    except ValueError as exc:
        raise CalibrationError(f"{path} is not a valid calibration file: {exc}") from None
    if model is not None and calibration.model != model:
        raise CalibrationError(f"{path} calibrates {calibration.model!r}, not {model!r}")
    if version is not None and calibration.version != version:
        raise CalibrationError(f"{path} calibrates version {calibration.version}, not {version}")
    return calibration


def write_calibration(calibration: EmbedderCalibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")


def now_utc() -> datetime:
    return datetime.now(UTC)
