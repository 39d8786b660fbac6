from __future__ import annotations

import numpy as np

from orchestrator.tracking.matching import iou_cost, iou_matrix, linear_assignment


def test_iou_matrix_known_values() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [50.0, 50.0, 50.0, 60.0]])
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0], [0.0, 0.0, 0.0]])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_fused_cost_prefers_confident_detection() -> None:
    track = np.array([[0.0, 0.0, 10.0, 10.0]])
    dets = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    cost = iou_cost(track, dets, np.array([0.6, 0.9]))
    np.testing.assert_allclose(cost, [[0.4, 0.1]])


def test_assignment_is_optimal_not_greedy() -> None:
    # Greedy takes (0, 0) first and leaves row 1 with a cost above the threshold.
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    rows, cols, free_rows, free_cols = linear_assignment(cost, thresh=0.8)
    assert rows.tolist() == [0, 1]
    assert cols.tolist() == [1, 0]
    assert free_rows.size == free_cols.size == 0


def test_assignment_never_exceeds_threshold() -> None:
    cost = np.array([[0.85, 0.3, 0.95], [0.81, 0.99, 0.5]])
    rows, cols, free_rows, free_cols = linear_assignment(cost, thresh=0.8)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 2)]
    assert free_cols.tolist() == [0]
    rows, cols, free_rows, free_cols = linear_assignment(cost, thresh=0.4)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1)]
    assert free_rows.tolist() == [1]
    assert free_cols.tolist() == [0, 2]


def test_assignment_with_an_empty_side() -> None:
    rows, cols, free_rows, free_cols = linear_assignment(np.zeros((3, 0)), thresh=0.8)
    assert rows.size == cols.size == 0
    assert free_rows.tolist() == [0, 1, 2]
    assert free_cols.size == 0
