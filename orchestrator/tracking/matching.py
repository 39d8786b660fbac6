"""IoU costs and optimal one-to-one assignment between tracks and detections.

ByteTrack's original uses lapjv with a cost limit; an optimal solver over costs clipped just
above the threshold gives the same matches (an unmatched pair costs the threshold in both
formulations), so scipy's exact solver stands in for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import (  # type: ignore[import-untyped, unused-ignore]
    linear_sum_assignment,
)

Array = NDArray[np.float64]
Index = NDArray[np.intp]


def iou_matrix(a: NDArray[np.floating[Any]], b: NDArray[np.floating[Any]]) -> Array:
    """Pairwise IoU of xyxy boxes, shape (len(a), len(b)); degenerate boxes give 0."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: Array = inter / np.maximum(union, 1e-12)
    return out


def iou_cost(
    track_boxes: Array,
    det_boxes: NDArray[np.floating[Any]],
    det_scores: NDArray[np.floating[Any]] | None = None,
) -> Array:
    """1 - IoU, or 1 - IoU * score when scores are given (ByteTrack's fuse_score)."""
    similarity = iou_matrix(track_boxes, det_boxes)
    if det_scores is not None:
        similarity *= np.asarray(det_scores, dtype=np.float64)[None, :]
    cost: Array = 1.0 - similarity
    return cost


def linear_assignment(cost: Array, thresh: float) -> tuple[Index, Index, Index, Index]:
    """Minimum-cost matching that never pairs rows and columns costing more than `thresh`.

    Returns (matched rows, their matched cols, unmatched rows, unmatched cols); matched
    rows and both unmatched lists are ascending.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.arange(rows, dtype=np.intp), np.arange(cols, dtype=np.intp)
    row_ind, col_ind = linear_sum_assignment(np.minimum(cost, thresh + 1e-4))
    keep = cost[row_ind, col_ind] <= thresh
    matched_rows: Index = row_ind[keep].astype(np.intp, copy=False)
    matched_cols: Index = col_ind[keep].astype(np.intp, copy=False)
    row_free = np.ones(rows, dtype=np.bool_)
    row_free[matched_rows] = False
    col_free = np.ones(cols, dtype=np.bool_)
    col_free[matched_cols] = False
    return matched_rows, matched_cols, row_free.nonzero()[0], col_free.nonzero()[0]


__all__ = ["iou_cost", "iou_matrix", "linear_assignment"]
