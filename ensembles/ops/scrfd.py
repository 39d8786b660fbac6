"""SCRFD face detector head (insightface layout): per stride 8/16/32, 2 anchors per cell,
scores [B, A, 1], distances to box sides [B, A, 4] and 5 landmark offsets [B, A, 10], all in
units of the stride."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

from ensembles.ops.boxes import clip, nms
from ensembles.ops.image import Letterbox

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
OUTPUT_NAMES = tuple(f"{kind}_{stride}" for kind in ("score", "bbox", "kps") for stride in STRIDES)


@cache
def anchor_centers(size: int, stride: int) -> NDArray[np.float32]:
    cells = size // stride
    ys, xs = np.mgrid[:cells, :cells]
    centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centers, ANCHORS_PER_CELL, axis=0)


def decode_faces(
    outputs: dict[str, NDArray[np.float32]],
    index: int,
    size: int,
    box: Letterbox,
    min_score: float,
    iou: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Image `index` of a batch -> face boxes, scores, landmarks [N, 5, 2] in frame pixels."""
    all_boxes, all_scores, all_kps = [], [], []
    for stride in STRIDES:
        scores = outputs[f"score_{stride}"][index, :, 0]
        keep = scores >= min_score
        if not keep.any():
            continue
        centers = anchor_centers(size, stride)[keep]
        dist = outputs[f"bbox_{stride}"][index, keep] * stride
        kps = outputs[f"kps_{stride}"][index, keep] * stride
        all_boxes.append(np.concatenate([centers - dist[:, :2], centers + dist[:, 2:]], axis=1))
        all_kps.append(kps + np.tile(centers, 5))
        all_scores.append(scores[keep])
    if not all_boxes:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 5, 2), np.float32),
        )
    xyxy = np.concatenate(all_boxes).astype(np.float32)
    scores = np.concatenate(all_scores).astype(np.float32)
    kps = np.concatenate(all_kps).astype(np.float32)
    order = nms(xyxy, scores, iou)
    xyxy = clip(box.to_frame(xyxy[order]), box.width, box.height)
    landmarks = box.to_frame(kps[order]).reshape(-1, 5, 2)
    return xyxy, scores[order], landmarks
