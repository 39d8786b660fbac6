"""The benchmark's metrics on hand-countable cases."""

from __future__ import annotations

import numpy as np

from perf.mot_metrics import MotAccumulator

A = [0.0, 0.0, 10.0, 20.0]
B = [100.0, 0.0, 110.0, 20.0]
FAR = [500.0, 500.0, 510.0, 520.0]


def _feed(acc: MotAccumulator, hyp_ids: list[int], hyp_boxes: list[list[float]]) -> None:
    acc.update(
        np.array([1, 2]),
        np.array([A, B], dtype=np.float32),
        np.array(hyp_ids, dtype=np.int64),
        np.array(hyp_boxes, dtype=np.float32).reshape(-1, 4),
    )


def test_perfect_tracking() -> None:
    acc = MotAccumulator()
    for _ in range(10):
        _feed(acc, [10, 20], [A, B])
    result = acc.result()
    assert (result.mota, result.idf1, result.id_switches) == (1.0, 1.0, 0)


def test_swapped_ids_halfway() -> None:
    acc = MotAccumulator()
    for frame in range(10):
        _feed(acc, [10, 20] if frame < 5 else [20, 10], [A, B])
    result = acc.result()
    assert result.id_switches == 2
    assert result.mota == 1.0 - 2 / 20
    assert result.idf1 == 0.5


def test_misses_and_false_positives() -> None:
    acc = MotAccumulator()
    _feed(acc, [10, 20, 30], [A, B, FAR])  # one false positive
    _feed(acc, [10], [A])  # B missed
    _feed(acc, [10, 20], [A, [103.0, 0.0, 113.0, 20.0]])  # IoU 0.54: still a match
    _feed(acc, [10, 20], [A, [106.0, 0.0, 116.0, 20.0]])  # IoU 0.25: a miss and an FP
    result = acc.result()
    assert (result.false_positives, result.misses, result.id_switches) == (2, 2, 0)
    assert result.mota == 1.0 - 4 / 8
    # IDTP: gt 1 with 10 on 4 frames, gt 2 with 20 on 2 frames; 8 gt and 8 hyp boxes
    assert result.idf1 == 2 * 6 / 16
