"""Frame validation: refuse frames that would only waste inference or poison statistics.

A camera with a failing sensor, a covered lens, lights off or a decoder hiccup produces
frames that are technically images but carry nothing: uniform grey (std < 5), black
(mean <= 2) or white (mean >= 253). Those, and anything that is not an HxWx3 uint8 BGR
image, are rejected and counted by reason in trinetra_frames_rejected_total. Validation
never raises: a corrupt frame is a counted reject, never a crash.

Statistics are computed on a strided subsample (every 4th row and column), which is
~16x cheaper than the full image and plenty for a mean and a standard deviation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from numpy.typing import NDArray

from orchestrator.metrics import METRICS, OrchestratorMetrics

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FrameValidator",
    "RejectReason",
    "ValidationThresholds",
    "check_frame",
    "decode_jpeg",
]


class RejectReason(StrEnum):
    UNDECODABLE = "undecodable"  # bytes that did not decode to an image
    EMPTY = "empty"  # None or zero-sized
    BAD_SHAPE = "bad_shape"  # not HxWx3 uint8, or implausibly small/large
    BLANK = "blank"  # standard deviation below threshold: no content
    BLACK = "black"  # mean at or below the dark threshold
    WHITE = "white"  # mean at or above the bright threshold
    ERROR = "error"  # validation itself failed on a malformed object


@dataclass(frozen=True, slots=True)
class ValidationThresholds:
    min_std: float = 5.0
    min_mean: float = 2.0  # mean must be strictly inside (min_mean, max_mean)
    max_mean: float = 253.0
    min_side: int = 16
    max_side: int = 8192
    stride: int = 4


DEFAULT_THRESHOLDS = ValidationThresholds()


def decode_jpeg(data: bytes | bytearray | memoryview) -> NDArray[np.uint8] | None:
    """Decode JPEG (or any format OpenCV reads) to BGR; None when it does not decode."""
    if len(data) == 0:
        return None
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if image is None else np.asarray(image, np.uint8)


def check_frame(
    image: object, thresholds: ValidationThresholds = DEFAULT_THRESHOLDS
) -> RejectReason | None:
    """The reason to reject `image`, or None when it is a usable BGR frame. Never raises."""
    try:
        if image is None:
            return RejectReason.EMPTY
        if not isinstance(image, np.ndarray):
            return RejectReason.BAD_SHAPE
        if image.size == 0:
            return RejectReason.EMPTY
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            return RejectReason.BAD_SHAPE
        height, width = image.shape[:2]
        t = thresholds
        if min(height, width) < t.min_side or max(height, width) > t.max_side:
            return RejectReason.BAD_SHAPE
        sample = image[:: t.stride, :: t.stride]
        mean = float(sample.mean())
        if mean <= t.min_mean:
            return RejectReason.BLACK
        if mean >= t.max_mean:
            return RejectReason.WHITE
        if float(sample.std()) < t.min_std:
            return RejectReason.BLANK
        return None
    except Exception:  # a malformed array-like must not take the camera down
        return RejectReason.ERROR


class FrameValidator:
    """`check_frame` for one camera, counting rejects in Prometheus and locally."""

    def __init__(
        self,
        camera_id: str,
        *,
        metrics: OrchestratorMetrics = METRICS,
        thresholds: ValidationThresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self.camera_id = camera_id
        self.thresholds = thresholds
        self._metrics = metrics
        self.rejected: Counter[RejectReason] = Counter()
        self.accepted = 0

    def validate(self, image: object) -> bool:
        """True for a usable frame; otherwise counts the reason and returns False."""
        reason = check_frame(image, self.thresholds)
        if reason is None:
            self.accepted += 1
            return True
        self.reject(reason)
        return False

    def reject(self, reason: RejectReason) -> None:
        """Count a reject found elsewhere (e.g. a part that failed to decode)."""
        self.rejected[reason] += 1
        self._metrics.frames_rejected.labels(camera=self.camera_id, reason=reason.value).inc()
