"""CLEAR-MOT accuracy (MOTA) and identity F1 (IDF1) against ground truth, at IoU >= 0.5.

Small enough to read in one go, so benchmark figures do not hinge on a metrics package's
conventions. MOTA follows py-motmetrics: a ground-truth object keeps its previous match
while the IoU allows, and an id switch is counted when it is next matched to a different
hypothesis id. IDF1 assigns ground-truth ids to hypothesis ids once for the whole sequence
(optimal, one-to-one) and counts the frames on which each assigned pair overlaps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import (  # type: ignore[import-untyped, unused-ignore]
    linear_sum_assignment,
)

from orchestrator.tracking.matching import iou_matrix


@dataclass(frozen=True)
class MotResult:
    mota: float
    idf1: float
    id_switches: int
    false_positives: int
    misses: int
    gt_count: int


@dataclass
class MotAccumulator:
    """Feed frames in order with `update`, then read `result`."""

    iou_threshold: float = 0.5
    _last_match: dict[int, int] = field(default_factory=dict)
    _pair_frames: Counter[tuple[int, int]] = field(default_factory=Counter)
    _gt_count: int = 0
    _hyp_count: int = 0
    _switches: int = 0
    _false_positives: int = 0
    _misses: int = 0

    def update(
        self,
        gt_ids: NDArray[np.int64],
        gt_boxes: NDArray[np.float32],
        hyp_ids: NDArray[np.int64],
        hyp_boxes: NDArray[np.float32],
    ) -> None:
        iou = iou_matrix(gt_boxes, hyp_boxes)
        ok = iou >= self.iou_threshold
        self._gt_count += len(gt_ids)
        self._hyp_count += len(hyp_ids)
        gts, hyps = np.nonzero(ok)
        self._pair_frames.update(zip(gt_ids[gts].tolist(), hyp_ids[hyps].tolist(), strict=True))

        gt_list = gt_ids.tolist()
        hyp_list = hyp_ids.tolist()
        hyp_col = {h: j for j, h in enumerate(hyp_list)}
        gt_free = np.ones(len(gt_list), dtype=np.bool_)
        hyp_free = np.ones(len(hyp_list), dtype=np.bool_)
        for i, g in enumerate(gt_list):  # keep last frame's correspondences when still valid
            j = hyp_col.get(self._last_match.get(g, -1))
            if j is not None and ok[i, j] and hyp_free[j]:
                gt_free[i] = hyp_free[j] = False
        rows, cols = np.flatnonzero(gt_free), np.flatnonzero(hyp_free)
        if len(rows) and len(cols):
            cost = np.where(ok[np.ix_(rows, cols)], 1.0 - iou[np.ix_(rows, cols)], 2.0)
            r, c = linear_sum_assignment(cost)
            for i, j in zip(rows[r].tolist(), cols[c].tolist(), strict=True):
                if not ok[i, j]:
                    continue
                g, h = gt_list[i], hyp_list[j]
                if self._last_match.get(g, h) != h:
                    self._switches += 1
                self._last_match[g] = h
                gt_free[i] = hyp_free[j] = False
        self._misses += int(gt_free.sum())
        self._false_positives += int(hyp_free.sum())

    def result(self) -> MotResult:
        errors = self._misses + self._false_positives + self._switches
        mota = 1.0 - errors / self._gt_count if self._gt_count else 1.0
        return MotResult(
            mota=mota,
            idf1=self._idf1(),
            id_switches=self._switches,
            false_positives=self._false_positives,
            misses=self._misses,
            gt_count=self._gt_count,
        )

    def _idf1(self) -> float:
        total = self._gt_count + self._hyp_count
        if total == 0:
            return 1.0
        if not self._pair_frames:
            return 0.0
        gts = sorted({g for g, _ in self._pair_frames})
        hyps = sorted({h for _, h in self._pair_frames})
        g_index = {g: i for i, g in enumerate(gts)}
        h_index = {h: j for j, h in enumerate(hyps)}
        overlap = np.zeros((len(gts), len(hyps)), dtype=np.float64)
        for (g, h), frames in self._pair_frames.items():
            overlap[g_index[g], h_index[h]] = frames
        r, c = linear_sum_assignment(overlap, maximize=True)
        id_true_positives = float(overlap[r, c].sum())
        return 2.0 * id_true_positives / total
