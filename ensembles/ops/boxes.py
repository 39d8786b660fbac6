"""Box utilities shared by both detector heads."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def nms(xyxy: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> NDArray[np.int64]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou)
    return np.asarray(keep, np.int64).reshape(-1)


def clip(xyxy: NDArray[np.float32], width: int, height: int) -> NDArray[np.float32]:
    out = xyxy.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out


def link_faces_to_persons(
    faces: NDArray[np.float32], persons: NDArray[np.float32], min_containment: float = 0.8
) -> NDArray[np.int64]:
    """For each face box, the index of the person box containing it, or -1.

    Containment is the share of the face's area inside the person box; among boxes that
    contain a face, the smallest wins, since crowded frames nest people's boxes.
    """
    if len(faces) == 0 or len(persons) == 0:
        return np.full(len(faces), -1, np.int64)
    lt = np.maximum(faces[:, None, :2], persons[None, :, :2])
    rb = np.minimum(faces[:, None, 2:], persons[None, :, 2:])
    inter = np.prod((rb - lt).clip(min=0), axis=2)
    face_area = np.prod(faces[:, 2:] - faces[:, :2], axis=1).clip(min=1e-6)
    person_area = np.prod(persons[:, 2:] - persons[:, :2], axis=1)
    contains = inter / face_area[:, None] >= min_containment
    ranked = np.where(contains, person_area[None, :], np.inf)
    best = ranked.argmin(axis=1)
    return np.where(contains.any(axis=1), best, -1).astype(np.int64)
