"""The data every stage speaks: what the vision pipeline found in one frame.

Boxes are (x1, y1, x2, y2) in the original frame's pixels. Arrays, not lists of objects,
so tracking and filtering stay vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]

EMBEDDING_DIM = 512


def _as(array: object, dtype: type, shape: tuple[int, ...]) -> NDArray[np.generic]:
    """Coerce to `dtype` with trailing dims `shape` (an empty input becomes shape (0, *shape))."""
    out: NDArray[np.generic] = np.asarray(array, dtype=dtype)
    if out.size == 0:
        return np.zeros((0, *shape), dtype=dtype)
    return out.reshape(-1, *shape)


@dataclass(frozen=True)
class Detections:
    """Person boxes in one frame, optionally with the tracker's ids."""

    xyxy: FloatArray
    confidence: FloatArray
    tracker_id: IntArray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as(self.xyxy, np.float32, (4,)))
        object.__setattr__(self, "confidence", _as(self.confidence, np.float32, ()).reshape(-1))
        if self.tracker_id is not None:
            ids = _as(self.tracker_id, np.int64, ()).reshape(-1)
            object.__setattr__(self, "tracker_id", ids)
        n = len(self.xyxy)
        if len(self.confidence) != n or (self.tracker_id is not None and len(self.tracker_id) != n):
            raise ValueError("xyxy, confidence and tracker_id must have the same length")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(
        self, index: NDArray[np.bool_] | NDArray[np.integer[Any]] | slice
    ) -> Detections:
        ids = None if self.tracker_id is None else self.tracker_id[index]
        return Detections(self.xyxy[index], self.confidence[index], ids)

    def with_tracker_ids(self, tracker_id: IntArray) -> Detections:
        return Detections(self.xyxy, self.confidence, tracker_id)


@dataclass(frozen=True)
class Faces:
    """Faces in one frame: box, 5 landmarks (eyes, nose, mouth corners), score, the index of
    the person box that contains it (-1 for none) and its L2-normalized embedding."""

    xyxy: FloatArray
    confidence: FloatArray
    landmarks: FloatArray
    person_index: IntArray
    embeddings: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as(self.xyxy, np.float32, (4,)))
        object.__setattr__(self, "confidence", _as(self.confidence, np.float32, ()).reshape(-1))
        object.__setattr__(self, "landmarks", _as(self.landmarks, np.float32, (5, 2)))
        person_index = _as(self.person_index, np.int64, ()).reshape(-1)
        object.__setattr__(self, "person_index", person_index)
        object.__setattr__(self, "embeddings", _as(self.embeddings, np.float32, (EMBEDDING_DIM,)))
        n = len(self.xyxy)
        lengths = {len(self.confidence), len(self.landmarks), len(self.person_index)}
        if lengths != {n} or len(self.embeddings) != n:
            raise ValueError("all face arrays must have the same length")

    @classmethod
    def empty(cls) -> Faces:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 5, 2), np.float32),
            np.zeros(0, np.int64),
            np.zeros((0, EMBEDDING_DIM), np.float32),
        )

    def __len__(self) -> int:
        return len(self.xyxy)


@dataclass(frozen=True)
class FrameAnalysis:
    """Everything `vision_pipeline` returns for one frame: `model_versions` (model ->
    version) and `endpoint` (the Triton host:port that answered, a fallback tier's when
    it stood in) say what produced it."""

    width: int
    height: int
    persons: Detections
    faces: Faces
    model_versions: dict[str, str] = field(default_factory=dict)
    endpoint: str | None = None
