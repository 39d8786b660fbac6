"""Optimal one-to-one assignment (the Hungarian method) in plain numpy.

scipy.optimize.linear_sum_assignment computes the same thing, but these functions also
run inside the Triton server, whose environments (.venv-triton, the GPU image) carry
numpy and OpenCV only. The problems here are small (faces x person boxes of one frame),
so an O(n^2 m) shortest-augmenting-path solver with the inner loop vectorised is plenty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def linear_assignment(
    cost: NDArray[np.floating[Any]],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows and columns of a minimum-cost matching of a [n, m] cost matrix, rows ascending.

    +inf marks a forbidden pair. The matching has min(n, m) pairs, less any pair that
    would have to be forbidden (a row with no allowed column left is unmatched); among
    matchings with the most allowed pairs, it has the least total cost.
    """
    matrix = np.asarray(cost, np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"cost must be 2-d, got shape {matrix.shape}")
    if matrix.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if np.isnan(matrix).any() or np.isneginf(matrix).any():
        raise ValueError("cost must not contain NaN or -inf")
    transposed = matrix.shape[0] > matrix.shape[1]
    if transposed:
        matrix = matrix.T
    allowed = np.isfinite(matrix)
    finite = matrix[allowed]
    # A forbidden pair costs more than any matching made of allowed pairs only.
    span = float(np.abs(finite).max()) if finite.size else 0.0
    big = (span + 1.0) * (matrix.shape[0] + 1) * 2
    rows, cols = _hungarian(np.where(allowed, matrix, big))
    keep = allowed[rows, cols]
    rows, cols = rows[keep], cols[keep]
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows)
        rows, cols = rows[order], cols[order]
    return rows, cols


def _hungarian(a: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Complete minimum-cost matching of every row of a finite [n, m] matrix, n <= m
    (shortest augmenting paths with potentials; column 0 of the arrays is a sentinel)."""
    n, m = a.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, np.int64)  # row (1-based) matched to each column, 0 for none
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used
            reduced = a[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free[1:], minv[1:], np.inf)
            j1 = int(candidates.argmin()) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = int(way[j0])
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.flatnonzero(owner[1:])
    rows = owner[1:][cols] - 1
    order = np.argsort(rows)
    return rows[order].astype(np.int64), cols[order].astype(np.int64)
