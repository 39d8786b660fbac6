"""Face crops aligned to the ArcFace 112x112 template by a 5-point similarity transform."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ensembles.ops.image import Image, to_chw_float

CROP_SIZE = 112
# insightface's reference landmarks for 112x112 ArcFace crops: eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    np.float32,
)


def similarity_transform(src: NDArray[np.float32], dst: NDArray[np.float32]) -> NDArray[np.float64]:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst,
    Umeyama's method; returns the 2x3 affine matrix."""
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    src_mean, dst_mean = src64.mean(0), dst64.mean(0)
    src_c, dst_c = src64 - src_mean, dst64 - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_faces(image_bgr: Image, landmarks: NDArray[np.float32]) -> NDArray[np.float32]:
    """Crops for each face's landmarks [N, 5, 2] -> ArcFace input [N, 3, 112, 112] (RGB,
    (x - 127.5) / 127.5)."""
    crops = np.empty((len(landmarks), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    for i, points in enumerate(landmarks):
        matrix = similarity_transform(points, ARCFACE_TEMPLATE)
        crops[i] = cv2.warpAffine(image_bgr, matrix, (CROP_SIZE, CROP_SIZE), borderValue=(0, 0, 0))
    return to_chw_float(crops[..., ::-1], 127.5, 127.5)


def l2_normalize(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    normalized: NDArray[np.float32] = (vectors / norms).astype(np.float32)
    return normalized
