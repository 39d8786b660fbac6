"""The observation quality gate: only faces good enough to be evidence vote.

The store node sends, with each face's embedding, what the detector measured (`FaceMeasures`:
face box, detector score, the 5 landmarks, a sharpness figure where it has one); the gate
judges them here, with the thresholds of `identity.config.QualityConfig`, through
`ensembles.ops.face_quality` (the same function the pipeline team measured): minimum size,
detector score, frontal pose from the landmarks, blur. A refused face does not vote, does
not update any template and does not link a visit. Judging in the service rather than at
the node keeps the thresholds in one place and out of reach of a misconfigured node.

An observation without measurements (an in-process caller that vetted its faces itself, a
node older than this protocol) passes unless `require_measurements` is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ensembles.ops.face_quality import FaceQualityThresholds, face_quality

Box = tuple[float, float, float, float]
Landmarks = tuple[
    tuple[float, float],
    tuple[float, float],
    tuple[float, float],
    tuple[float, float],
    tuple[float, float],
]
QualityReason = Literal[
    "ok", "unmeasured", "missing", "too_small", "low_score", "not_frontal", "blurry"
]


@dataclass(frozen=True, slots=True)
class FaceMeasures:
    """What the detector saw of one face, in the frame's pixels."""

    box: Box
    score: float
    landmarks: Landmarks
    sharpness: float | None = None  # variance of the Laplacian of the aligned crop

    @classmethod
    def of(
        cls, box: ArrayLike, score: float, landmarks: ArrayLike, sharpness: float | None = None
    ) -> FaceMeasures:
        """From the pipeline's arrays: box [4] xyxy and landmarks [5, 2], pixels."""
        b = np.asarray(box, np.float64).reshape(4)
        p = np.asarray(landmarks, np.float64).reshape(5, 2)
        points = [(float(x), float(y)) for x, y in p]
        return cls(
            box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            score=float(score),
            landmarks=(points[0], points[1], points[2], points[3], points[4]),
            sharpness=sharpness,
        )


@dataclass(frozen=True, slots=True)
class QualityVerdict:
    ok: bool
    reason: QualityReason
    score: float  # 0 for a refused face; 1 for an unmeasured one that passes


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """The gates (see `QualityConfig` for what each means and where it was measured)."""

    min_size_px: float
    min_score: float
    max_yaw: float
    max_roll_deg: float
    min_pitch: float
    max_pitch: float
    min_blur: float
    require_measurements: bool = False


class QualityGate:
    def __init__(self, thresholds: QualityThresholds) -> None:
        self.thresholds = thresholds
        self._ops = FaceQualityThresholds(
            min_size_px=thresholds.min_size_px,
            min_score=thresholds.min_score,
            max_yaw=thresholds.max_yaw,
            max_roll_deg=thresholds.max_roll_deg,
            min_pitch=thresholds.min_pitch,
            max_pitch=thresholds.max_pitch,
            min_blur=thresholds.min_blur,
        )

    def check(self, measures: FaceMeasures | None) -> QualityVerdict:
        if measures is None:
            if self.thresholds.require_measurements:
                return QualityVerdict(False, "missing", 0.0)
            return QualityVerdict(True, "unmeasured", 1.0)
        quality = face_quality(
            np.asarray([measures.box], np.float32),
            np.asarray([measures.score], np.float32),
            np.asarray([measures.landmarks], np.float32),
            thresholds=self._ops,
        )
        reason = str(quality.reason[0])
        score = float(quality.score[0])
        if reason == "ok" and measures.sharpness is not None:
            # The node measured blur on the aligned crop (the ops function needs the
            # crop itself for that, which only the pipeline has).
            if not math.isfinite(measures.sharpness) or measures.sharpness < self._ops.min_blur:
                return QualityVerdict(False, "blurry", 0.0)
            score *= min(measures.sharpness / (4 * self._ops.min_blur), 1.0)
        if reason == "ok":
            return QualityVerdict(True, "ok", score)
        return QualityVerdict(False, _reason(reason), 0.0)


def _reason(value: str) -> QualityReason:
    known: tuple[QualityReason, ...] = ("too_small", "low_score", "not_frontal", "blurry")
    for reason in known:
        if value == reason:
            return reason
    return "not_frontal"  # a refusal the ops function added later: refused all the same
