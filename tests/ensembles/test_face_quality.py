"""face_quality on synthetic landmarks and crops: each gate, the pose proxies, the order
of the reasons."""

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ensembles.ops.align import ARCFACE_TEMPLATE
from ensembles.ops.face_quality import (
    FaceQualityThresholds,
    Refusal,
    crop_sharpness,
    face_pose,
    face_quality,
)

F32 = NDArray[np.float32]


def face(size: float = 100.0, roll_deg: float = 0.0, nose_shift: float = 0.0) -> tuple[F32, F32]:
    """A frontal face's box and landmarks (the ArcFace template, scaled to a `size` px box,
    rolled about its centre, the nose moved along the eye line by `nose_shift` x the
    inter-ocular distance)."""
    points = (ARCFACE_TEMPLATE - 56.0) * (size / 112.0)
    iod = float(np.linalg.norm(points[1] - points[0]))
    points[2, 0] += nose_shift * iod
    angle = np.deg2rad(roll_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([500.0, 400.0])
    landmarks = (points @ rotation.T + centre).astype(np.float32)
    half = size / 2
    box = np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])
    return box.astype(np.float32), landmarks


def batch(*faces: tuple[F32, F32]) -> tuple[F32, F32]:
    return np.stack([b for b, _ in faces]), np.stack([lm for _, lm in faces])


def textured_crops(count: int, blur_sigma: float = 0.0) -> NDArray[np.uint8]:
    rng = np.random.default_rng(3)
    crops = rng.integers(40, 220, size=(count, 112, 112, 3)).astype(np.uint8)
    if blur_sigma:
        crops = np.stack([cv2.GaussianBlur(c, (0, 0), blur_sigma) for c in crops])
    return crops


def test_a_frontal_face_passes_with_a_positive_score() -> None:
    boxes, landmarks = batch(face())
    quality = face_quality(boxes, np.array([0.85], np.float32), landmarks)
    assert quality.reason.tolist() == ["ok"] and quality.ok.tolist() == [True]
    assert 0 < quality.score[0] <= 1
    assert abs(quality.yaw[0]) < 0.05 and abs(quality.roll_deg[0]) < 1
    assert 0.3 < quality.pitch[0] < 0.7
    assert np.isnan(quality.blur[0])  # no crops: no blur check


def test_each_gate_refuses_with_its_reason() -> None:
    boxes, landmarks = batch(
        face(size=30),  # too small
        face(),  # low score
        face(nose_shift=0.5),  # turned
        face(roll_deg=60),  # rolled
        face(),  # blurry crop
        face(),  # ok
    )
    scores = np.array([0.9, 0.55, 0.9, 0.9, 0.9, 0.9], np.float32)
    crops = textured_crops(6)
    crops[4] = cv2.GaussianBlur(crops[4], (0, 0), 4.0)
    quality = face_quality(boxes, scores, landmarks, crops)
    assert quality.reason.tolist() == [
        Refusal.TOO_SMALL,
        Refusal.LOW_SCORE,
        Refusal.NOT_FRONTAL,
        Refusal.NOT_FRONTAL,
        Refusal.BLURRY,
        Refusal.OK,
    ]
    assert (quality.score[:5] == 0).all() and quality.score[5] > 0


def test_the_first_failing_check_names_the_reason() -> None:
    boxes, landmarks = batch(face(size=20, nose_shift=0.6))
    quality = face_quality(boxes, np.array([0.3], np.float32), landmarks)
    assert quality.reason.tolist() == ["too_small"]


def test_pose_proxies_ignore_roll_and_scale() -> None:
    _, upright = face(size=100, nose_shift=0.2)
    _, rolled = face(size=300, roll_deg=25, nose_shift=0.2)
    yaw, roll, pitch = face_pose(np.stack([upright, rolled]))
    assert yaw[0] == pytest.approx(0.2, abs=1e-4) and yaw[1] == pytest.approx(0.2, abs=1e-4)
    assert roll[1] - roll[0] == pytest.approx(25, abs=1e-3)
    assert pitch[0] == pytest.approx(pitch[1], abs=1e-4)


def test_degenerate_landmarks_are_not_frontal() -> None:
    box, landmarks = face()
    collapsed = np.repeat(landmarks[:1], 5, axis=0)  # every point on the left eye
    upside_down = landmarks.copy()
    upside_down[3:, 1] = landmarks[0, 1] - 30  # mouth above the eyes
    quality = face_quality(
        np.stack([box, box]), np.array([0.9, 0.9], np.float32), np.stack([collapsed, upside_down])
    )
    assert quality.reason.tolist() == ["not_frontal", "not_frontal"]


def test_thresholds_are_configurable_and_checked() -> None:
    boxes, landmarks = batch(face(size=30))
    lenient = FaceQualityThresholds(min_size_px=24)
    assert face_quality(boxes, np.array([0.9], np.float32), landmarks, None, lenient).ok.all()
    with pytest.raises(ValueError, match="pitch"):
        FaceQualityThresholds(min_pitch=0.9, max_pitch=0.8)


def test_sharpness_falls_with_blur_and_ignores_the_black_fill() -> None:
    sharp, soft = crop_sharpness(textured_crops(1)), crop_sharpness(textured_crops(1, 3.0))
    assert sharp[0] > 100 * soft[0]
    # a blurred face at the frame's edge: align_faces fills the outside black, and that
    # hard edge must not read as sharpness
    edge = textured_crops(1, 3.0)
    edge[:, :, 60:] = 0
    assert crop_sharpness(edge)[0] == pytest.approx(soft[0], rel=0.5)
    # align_faces' own float layout gives the same measure
    chw = (np.moveaxis(edge, -1, 1).astype(np.float32) - 127.5) / 127.5
    assert crop_sharpness(chw)[0] == pytest.approx(crop_sharpness(edge)[0], rel=1e-4)


def test_empty_and_mismatched_inputs() -> None:
    quality = face_quality(
        np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    )
    assert quality.score.shape == quality.reason.shape == (0,)
    boxes, landmarks = batch(face(), face())
    with pytest.raises(ValueError, match="same faces"):
        face_quality(boxes, np.array([0.9], np.float32), landmarks)
    with pytest.raises(ValueError, match="crops"):
        face_quality(boxes, np.array([0.9, 0.9], np.float32), landmarks, textured_crops(1))
