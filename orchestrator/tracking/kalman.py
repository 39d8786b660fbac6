"""Constant-velocity Kalman filter over (cx, cy, aspect, height), batched over tracks.

The state and noise model are the ones ByteTrack inherits from DeepSORT: per track, the
box (centre, aspect ratio w/h, height) and its velocity, with noise proportional to the
box height so near and far people are treated alike.

That model never couples different box coordinates: transition, process noise,
measurement and measurement noise all act on each coordinate and its own velocity alone.
Starting from a diagonal covariance, the 8x8 covariance therefore stays four independent
2x2 blocks, and the filter is computed exactly as four scalar filters per track: three
numbers per coordinate (position variance, position-velocity covariance, velocity
variance) instead of an 8x8 matrix, and a division instead of a matrix solve. Every
function works on all tracks at once; a per-track loop would cost more in Python overhead
than the arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160

# Row indices of the (n, 3, 4) covariance: per coordinate (cx, cy, a, h) the position
# variance, the position-velocity covariance and the velocity variance.
POS, CROSS, VEL = 0, 1, 2

# Noise on the aspect ratio is absolute, not proportional to height: std of the initial
# position, process position, measurement, initial velocity and process velocity.
_ASPECT_STD = {"init_pos": 1e-2, "pos": 1e-2, "meas": 1e-1, "init_vel": 1e-5, "vel": 1e-5}


def xyxy_to_xyah(xyxy: NDArray[np.floating[Any]]) -> Array:
    """Boxes to the filter's measurement space; height, not width, is the scale reference."""
    boxes = np.asarray(xyxy, dtype=np.float64)
    out = np.empty((len(boxes), 4), dtype=np.float64)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    out[:, 0] = boxes[:, 0] + w / 2
    out[:, 1] = boxes[:, 1] + h / 2
    out[:, 2] = w / np.maximum(h, 1e-9)
    out[:, 3] = h
    return out


def xyah_to_xyxy(xyah: Array) -> Array:
    """Filter state back to corner boxes for IoU matching."""
    out = np.empty((len(xyah), 4), dtype=np.float64)
    h = xyah[:, 3]
    w = xyah[:, 2] * h
    out[:, 0] = xyah[:, 0] - w / 2
    out[:, 1] = xyah[:, 1] - h / 2
    out[:, 2] = out[:, 0] + w
    out[:, 3] = out[:, 1] + h
    return out


def _height_scaled(h: Array, weight: float, aspect_std: float) -> Array:
    """Per-coordinate variances (n, 4): (weight * h)^2, except the absolute aspect term."""
    var = np.repeat(((weight * h) ** 2)[:, None], 4, axis=1)
    var[:, 2] = aspect_std**2
    return var


def initiate(measurements: Array) -> tuple[Array, Array]:
    """Tracks at the measured boxes with zero velocity and wide velocity uncertainty.

    Returns the (n, 8) mean and the (n, 3, 4) covariance (rows POS, CROSS, VEL).
    """
    n = len(measurements)
    mean = np.zeros((n, 8), dtype=np.float64)
    mean[:, :4] = measurements
    h = measurements[:, 3]
    cov = np.zeros((n, 3, 4), dtype=np.float64)
    cov[:, POS] = _height_scaled(h, 2 * STD_WEIGHT_POSITION, _ASPECT_STD["init_pos"])
    cov[:, VEL] = _height_scaled(h, 10 * STD_WEIGHT_VELOCITY, _ASPECT_STD["init_vel"])
    return mean, cov


def predict(mean: Array, cov: Array) -> None:
    """Advance every track one frame, in place (P <- F P F^T + Q per coordinate)."""
    if len(mean) == 0:
        return
    h = mean[:, 3]
    q_pos = _height_scaled(h, STD_WEIGHT_POSITION, _ASPECT_STD["pos"])
    q_vel = _height_scaled(h, STD_WEIGHT_VELOCITY, _ASPECT_STD["vel"])
    mean[:, :4] += mean[:, 4:]
    pos, cross, vel = cov[:, POS], cov[:, CROSS], cov[:, VEL]
    pos += 2 * cross + vel + q_pos
    cross += vel
    vel += q_vel


def update(mean: Array, cov: Array, measurements: Array) -> tuple[Array, Array]:
    """Correct tracks with their matched (cx, cy, a, h) measurements; returns new arrays."""
    if len(mean) == 0:
        return mean, cov
    r = _height_scaled(mean[:, 3], STD_WEIGHT_POSITION, _ASPECT_STD["meas"])
    pos, cross, vel = cov[:, POS], cov[:, CROSS], cov[:, VEL]
    innovation_var = pos + r
    gain_pos = pos / innovation_var
    gain_vel = cross / innovation_var
    innovation = measurements - mean[:, :4]
    new_mean = np.empty_like(mean)
    new_mean[:, :4] = mean[:, :4] + gain_pos * innovation
    new_mean[:, 4:] = mean[:, 4:] + gain_vel * innovation
    new_cov = np.empty_like(cov)
    new_cov[:, POS] = pos * (1.0 - gain_pos)
    new_cov[:, CROSS] = cross * (1.0 - gain_pos)
    new_cov[:, VEL] = vel - gain_vel * cross
    return new_mean, new_cov


def full_covariance(cov: Array) -> Array:
    """The equivalent (n, 8, 8) covariance over (cx, cy, a, h, and their velocities)."""
    n = len(cov)
    out = np.zeros((n, 8, 8), dtype=np.float64)
    i = np.arange(4)
    out[:, i, i] = cov[:, POS]
    out[:, i, i + 4] = cov[:, CROSS]
    out[:, i + 4, i] = cov[:, CROSS]
    out[:, i + 4, i + 4] = cov[:, VEL]
    return out
