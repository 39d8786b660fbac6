"""Is a detected face good enough to be an identity observation? Pure and vectorised.

From what the vision pipeline already returns for each face (box, detector score, the
5 landmarks in `ensembles.ops.scrfd`'s order: left eye, right eye, nose tip, left and
right mouth corner, in the image's pixels) and, where they are at hand, the aligned
112x112 crops (`ensembles.ops.align.align_faces`), `face_quality` gives each face a
quality score and a reason for refusing it. A refused face must not vote.

Pose proxies, all in the face's own frame (rotated so that the eye line is horizontal):

- yaw: offset of the nose tip from the eye midpoint along the eye line, over the
  inter-ocular distance. 0 frontal; the nose moves towards the far eye as the head turns
  (about 0.6 tan(yaw) for an average face, so 0.35 is roughly 30 degrees).
- roll: angle of the eye line, in degrees. Alignment undoes roll, so its gate is wide and
  mostly catches landmark failures.
- pitch: the nose tip's drop below the eye line over the mouth's (eye line to mouth-corner
  midpoint), about 0.5 frontal; lower when the head tilts back, higher when it bows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


class Refusal(StrEnum):
    """Why a face was refused, in the order the checks apply (the first failing one)."""

    OK = "ok"
    TOO_SMALL = "too_small"
    LOW_SCORE = "low_score"
    NOT_FRONTAL = "not_frontal"
    BLURRY = "blurry"


@dataclass(frozen=True)
class FaceQualityThresholds:
    """Gates of `face_quality`. Defaults measured with the default face detector and
    embedder on the test photos (t1, players, bus, the obama and biden portraits) and a
    few more from the pinned archives the media come from (zidane.jpg, gdp.jpg,
    yaoming.jpg, basketball1.png); see each field."""

    #: Shorter side of the face box, px. Faces shrunk from 96-286 px (t1, the obama and
    #: biden portraits; 12 faces) keep a cosine of at least 0.88 (median 0.93) to their
    #: full-size embedding at 40 px, but only 0.83 at 32 px and 0.56 at 24 px, while a
    #: single vote already needs 0.72 against the gallery. The spectators' faces in
    #: players.jpg are 15-23 px, the players' 35-46.
    min_size_px: float = 40.0
    #: Detector (SCRFD) score. Frontal faces of 35 px and more score 0.74-0.89; the 15-23 px
    #: crowd faces 0.50-0.67 (0.5 is the pipeline's own floor), a profile 0.51.
    min_score: float = 0.6
    #: |yaw proxy|. Frontal faces measure at most 0.26 (t1's tilted heads); turned heads
    #: 0.58 (gdp.jpg), 0.62 (t1's man looking over his shoulder, about 45 degrees) and
    #: 0.89 (zidane.jpg, near profile).
    max_yaw: float = 0.35
    #: |roll|, degrees. t1's frontal, tilted heads reach 30.5.
    max_roll_deg: float = 40.0
    #: Pitch proxy range. Frontal faces measure 0.39-0.73 (no strongly pitched faces in
    #: the photos: these bounds are set wide of them, not measured on refusals).
    min_pitch: float = 0.25
    max_pitch: float = 0.85
    #: Variance of the Laplacian over the aligned crop's face region (grey levels 0-255),
    #: only where crops are given. Sharp faces of 40 px and more measure 44-1900. Gaussian
    #: blur on faces shrunk to ~100 px (cosine to the sharp embedding): sigma 1.5 gives
    #: 14-85 (0.89-0.96), sigma 2 7-44 (0.80-0.92), sigma 3 3-15 (0.60-0.84); the gate
    #: refuses blur that costs about what being under 40 px does.
    min_blur: float = 20.0

    def __post_init__(self) -> None:
        if self.min_pitch >= self.max_pitch:
            raise ValueError("min_pitch must be below max_pitch")
        if min(self.min_size_px, self.max_yaw, self.max_roll_deg) <= 0:
            raise ValueError("min_size_px, max_yaw and max_roll_deg must be positive")


DEFAULT_THRESHOLDS = FaceQualityThresholds()


@dataclass(frozen=True, eq=False)
class FaceQuality:
    """Per face: `score` in [0, 1] (0 for every refused face), `reason` (a `Refusal`
    value, "ok" when accepted) and the measurements behind them."""

    score: F32
    reason: NDArray[np.str_]
    size_px: F32
    yaw: F32
    roll_deg: F32
    pitch: F32
    blur: F32  # NaN where no crops were given

    @property
    def ok(self) -> NDArray[np.bool_]:
        accepted: NDArray[np.bool_] = self.reason == Refusal.OK.value
        return accepted


def face_pose(landmarks: F32) -> tuple[F32, F32, F32]:
    """Yaw proxy, roll (degrees) and pitch proxy of landmarks [N, 5, 2]; NaN where the
    landmarks are degenerate (eyes on one point, mouth not below the eyes)."""
    points = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    left_eye, right_eye, nose = points[:, 0], points[:, 1], points[:, 2]
    mouth = (points[:, 3] + points[:, 4]) / 2
    eye_mid = (left_eye + right_eye) / 2
    eye_line = right_eye - left_eye
    inter_ocular = np.linalg.norm(eye_line, axis=1)
    valid = inter_ocular > 1e-6
    along = eye_line / np.where(valid, inter_ocular, 1.0)[:, None]
    down = np.stack([-along[:, 1], along[:, 0]], axis=1)  # image y grows downwards
    to_nose, to_mouth = nose - eye_mid, mouth - eye_mid
    yaw = (to_nose * along).sum(axis=1) / np.where(valid, inter_ocular, 1.0)
    mouth_drop = (to_mouth * down).sum(axis=1)
    valid_pitch = valid & (mouth_drop > 1e-6)
    pitch = (to_nose * down).sum(axis=1) / np.where(valid_pitch, mouth_drop, 1.0)
    roll = np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0]))
    nan = np.float64(np.nan)
    return (
        np.where(valid, yaw, nan).astype(np.float32),
        np.where(valid, roll, nan).astype(np.float32),
        np.where(valid_pitch, pitch, nan).astype(np.float32),
    )


#: The face region of a 112x112 ArcFace crop (eyebrows to chin, cheek to cheek); the
#: rest is hair, background or, for faces at the frame edge, black fill.
_FACE_REGION = (slice(24, 104), slice(16, 96))


_FILL_MARGIN = 4


def _dilate(mask: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    """Square dilation of [N, H, W] masks by `radius` pixels."""
    out = mask.copy()
    for axis in (1, 2):
        grown = out.copy()
        size = out.shape[axis]
        for shift in range(1, radius + 1):
            if shift >= size:
                break
            lead = [slice(None)] * 3
            lag = [slice(None)] * 3
            lead[axis], lag[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(lead)] |= out[tuple(lag)]
            grown[tuple(lag)] |= out[tuple(lead)]
        out = grown
    return out


def crop_sharpness(crops: NDArray[np.generic]) -> F32:
    """Variance of the Laplacian (4-neighbour) of each crop's grey levels (0-255) over its
    face region, skipping pixels next to the black fill `align_faces` leaves outside the
    frame. Crops: `align_faces` output [N, 3, 112, 112] (RGB, (x - 127.5) / 127.5), or
    uint8 [N, 112, 112, 3] (either channel order)."""
    array = np.asarray(crops)
    if array.ndim != 4:
        raise ValueError(f"crops must be [N, 3, H, W] or [N, H, W, 3], got {array.shape}")
    if array.dtype == np.uint8:
        pixels = array.astype(np.float64)
    elif array.shape[1] == 3:
        pixels = np.moveaxis(array.astype(np.float64), 1, -1) * 127.5 + 127.5
    else:
        raise ValueError("float crops must be align_faces output, [N, 3, H, W]")
    grey = pixels.mean(axis=-1)
    # Fill and the interpolated ramp into it (a few crop pixels wide when the crop is an
    # upscaled small face) would read as sharp edges.
    hole = _dilate((pixels <= 0.5).all(axis=-1), _FILL_MARGIN)[:, _FACE_REGION[0], _FACE_REGION[1]]
    region = grey[:, _FACE_REGION[0], _FACE_REGION[1]]
    lap = (
        region[:, :-2, 1:-1] + region[:, 2:, 1:-1] + region[:, 1:-1, :-2] + region[:, 1:-1, 2:]
    ) - 4 * region[:, 1:-1, 1:-1]
    near_hole = hole[:, 1:-1, 1:-1]
    keep = ~near_hole
    count = keep.sum(axis=(1, 2))
    safe = count.clip(min=1)
    mean = (lap * keep).sum(axis=(1, 2)) / safe
    variance = ((lap - mean[:, None, None]) ** 2 * keep).sum(axis=(1, 2)) / safe
    return np.where(count >= 16, variance, 0.0).astype(np.float32)


def face_quality(
    boxes: F32,
    scores: F32,
    landmarks: F32,
    crops: NDArray[np.generic] | None = None,
    thresholds: FaceQualityThresholds = DEFAULT_THRESHOLDS,
) -> FaceQuality:
    """Quality and refusal reason of N faces: boxes [N, 4] xyxy px, detector scores [N],
    landmarks [N, 5, 2] px, optionally aligned crops (see `crop_sharpness`) for the blur
    check, which is skipped without them.

    A face is refused for the first of: too_small (shorter box side < min_size_px),
    low_score (< min_score), not_frontal (|yaw| > max_yaw, |roll| > max_roll_deg, pitch
    outside [min_pitch, max_pitch], or degenerate landmarks), blurry (< min_blur).

    The score of an accepted face is detector score x size factor (shorter side over
    twice min_size_px, at most 1) x pose factor (1 - the larger of (yaw / max_yaw)^2 and
    the pitch's squared distance from the middle of its range over its half-range) x
    blur factor (blur over 4 min_blur, at most 1; 1 without crops): for ranking a track's
    observations, not for accepting them.
    """
    t = thresholds
    box = np.asarray(boxes, np.float64).reshape(-1, 4)
    count = len(box)
    score = np.asarray(scores, np.float64).reshape(-1)
    if len(score) != count or len(np.asarray(landmarks).reshape(-1, 10)) != count:
        raise ValueError("boxes, scores and landmarks must describe the same faces")
    size = np.minimum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]).clip(min=0)
    yaw, roll, pitch = (v.astype(np.float64) for v in face_pose(landmarks))
    if crops is None:
        blur = np.full(count, np.nan)
    else:
        blur = crop_sharpness(crops).astype(np.float64)
        if len(blur) != count:
            raise ValueError(f"{len(blur)} crops for {count} faces")

    too_small = ~(size >= t.min_size_px)
    low_score = ~(score >= t.min_score)
    with np.errstate(invalid="ignore"):
        frontal = (
            (np.abs(yaw) <= t.max_yaw)
            & (np.abs(roll) <= t.max_roll_deg)
            & (pitch >= t.min_pitch)
            & (pitch <= t.max_pitch)
        )
        blurry = blur < t.min_blur  # NaN (no crops) is never blurry
    reason = np.select(
        [too_small, low_score, ~frontal, blurry],
        [
            Refusal.TOO_SMALL.value,
            Refusal.LOW_SCORE.value,
            Refusal.NOT_FRONTAL.value,
            Refusal.BLURRY.value,
        ],
        default=Refusal.OK.value,
    )

    middle = (t.min_pitch + t.max_pitch) / 2
    half_range = (t.max_pitch - t.min_pitch) / 2
    pose = 1 - np.maximum((yaw / t.max_yaw) ** 2, ((pitch - middle) / half_range) ** 2)
    size_factor = np.minimum(size / (2 * t.min_size_px), 1.0)
    blur_factor = np.where(np.isnan(blur), 1.0, np.minimum(blur / (4 * t.min_blur), 1.0))
    quality = score.clip(0, 1) * size_factor * pose * blur_factor
    accepted = reason == Refusal.OK.value
    return FaceQuality(
        score=np.where(accepted, quality.clip(0, 1), 0.0).astype(np.float32),
        reason=reason.astype(np.str_),
        size_px=size.astype(np.float32),
        yaw=yaw.astype(np.float32),
        roll_deg=roll.astype(np.float32),
        pitch=pitch.astype(np.float32),
        blur=blur.astype(np.float32),
    )
