"""YOLOv8-layout detection head (also YOLO11): [B, 4 + classes, anchors], no NMS inside."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ensembles.ops.boxes import clip, nms
from ensembles.ops.image import Letterbox

PERSON_CLASS = 0


def decode_persons(
    head: NDArray[np.float32],
    box: Letterbox,
    min_score: float,
    iou: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """One image's head output [4 + classes, anchors] -> person boxes in frame pixels, scores."""
    scores = head[4 + PERSON_CLASS]
    keep = scores >= min_score
    cx, cy, w, h = head[:4, keep]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kept_scores = scores[keep].astype(np.float32)
    order = nms(xyxy, kept_scores, iou)
    xyxy = clip(box.to_frame(xyxy[order]), box.width, box.height)
    return xyxy, kept_scores[order]
