"""The per-coordinate filter must be exactly DeepSORT's 8x8 filter, just cheaper."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from orchestrator.tracking import kalman

WP, WV = 1.0 / 20, 1.0 / 160
F = np.eye(8) + np.eye(8, k=4)
H = np.eye(4, 8)


def _reference_predict(mean: NDArray[np.float64], cov: NDArray[np.float64]) -> None:
    for i in range(len(mean)):
        h = mean[i, 3]
        q = np.diag(np.square([WP * h, WP * h, 1e-2, WP * h, WV * h, WV * h, 1e-5, WV * h]))
        mean[i] = F @ mean[i]
        cov[i] = F @ cov[i] @ F.T + q


def _reference_update(
    mean: NDArray[np.float64], cov: NDArray[np.float64], z: NDArray[np.float64]
) -> None:
    for i in range(len(mean)):
        h = mean[i, 3]
        s = H @ cov[i] @ H.T + np.diag(np.square([WP * h, WP * h, 1e-1, WP * h]))
        gain = cov[i] @ H.T @ np.linalg.inv(s)
        mean[i] = mean[i] + gain @ (z[i] - H @ mean[i])
        cov[i] = cov[i] - gain @ s @ gain.T


def test_matches_full_matrix_filter_over_many_steps() -> None:
    rng = np.random.default_rng(7)
    n = 6
    start = np.column_stack(
        [
            rng.uniform(0, 1900, n),
            rng.uniform(0, 1000, n),
            rng.uniform(0.3, 0.6, n),
            rng.uniform(50, 250, n),
        ]
    )
    mean, cov = kalman.initiate(start)
    ref_mean = mean.copy()
    h = start[:, 3]
    ref_cov = np.stack(
        [
            np.diag(
                np.square(
                    [
                        2 * WP * x,
                        2 * WP * x,
                        1e-2,
                        2 * WP * x,
                        10 * WV * x,
                        10 * WV * x,
                        1e-5,
                        10 * WV * x,
                    ]
                )
            )
            for x in h
        ]
    )
    np.testing.assert_allclose(kalman.full_covariance(cov), ref_cov)
    velocity = rng.normal(0, 4, (n, 4)) * [1, 1, 0.001, 0.1]
    for step in range(1, 25):
        kalman.predict(mean, cov)
        _reference_predict(ref_mean, ref_cov)
        if step % 5 == 0:  # a missed frame: predict only
            continue
        z = start + step * velocity + rng.normal(0, 2, (n, 4)) * [1, 1, 0.001, 0.5]
        mean, cov = kalman.update(mean, cov, z)
        _reference_update(ref_mean, ref_cov, z)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(kalman.full_covariance(cov), ref_cov, rtol=1e-9, atol=1e-9)
    # and it did learn the motion
    np.testing.assert_allclose(mean[:, 4:6], velocity[:, :2], atol=1.0)


def test_box_conversions_round_trip() -> None:
    boxes = np.array([[10.0, 20.0, 70.0, 170.0], [0.0, 0.0, 1.0, 4.0]])
    xyah = kalman.xyxy_to_xyah(boxes)
    np.testing.assert_allclose(xyah[0], [40.0, 95.0, 0.4, 150.0])
    np.testing.assert_allclose(kalman.xyah_to_xyxy(xyah), boxes)
