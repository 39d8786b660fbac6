"""Embedding hygiene: every vector that enters identity code goes through `unit_vector`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trinetra.inference.detections import EMBEDDING_DIM

Vector = NDArray[np.float32]


def unit_vector(value: Sequence[float] | NDArray[Any], dim: int = EMBEDDING_DIM) -> Vector:
    """A finite float32 copy of `value` with L2 norm 1; ValueError for a wrong shape, a
    non-finite value or a zero vector."""
    vector = np.array(value, dtype=np.float32).reshape(-1)
    if vector.shape != (dim,):
        raise ValueError(f"embedding must have {dim} values, got {vector.size}")
    if not np.all(np.isfinite(vector)):
        raise ValueError("embedding has non-finite values")
    norm = float(np.linalg.norm(vector))
    if norm < 1e-6:
        raise ValueError("embedding is (almost) zero")
    out: Vector = vector / np.float32(norm)
    return out


def fuse(embeddings: Sequence[Vector] | Vector, dim: int = EMBEDDING_DIM) -> Vector:
    """One probe from several samples of the same face: the normalized mean."""
    stack = np.asarray(embeddings, dtype=np.float32).reshape(-1, dim)
    if len(stack) == 0:
        raise ValueError("no embeddings to fuse")
    if len(stack) == 1:
        return unit_vector(stack[0], dim)
    return unit_vector(np.mean([unit_vector(e, dim) for e in stack], axis=0), dim)


def ema(stored: Vector, sample: Vector, alpha: float) -> Vector:
    """`(1 - alpha) * stored + alpha * sample`, re-normalized onto the unit sphere."""
    return unit_vector((1.0 - alpha) * stored + alpha * sample, stored.size)
