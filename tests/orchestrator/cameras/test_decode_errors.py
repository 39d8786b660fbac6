"""An FFmpeg decode error on one frame is a corrupt frame, not a lost stream.

The real failure (OpenCV's `_step >= minstep` assertion on the first frames of a fresh
H.264 session) cannot be produced on demand, so the capture here raises it directly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from orchestrator.cameras.opencv_sources import MAX_CONSECUTIVE_DECODE_ERRORS, RtspSource
from orchestrator.cameras.source import SourceError


class FlakyCapture:
    def __init__(self, failures: int) -> None:
        self.failures = failures

    def read(self) -> tuple[bool, np.ndarray]:  # type: ignore[type-arg]
        if self.failures > 0:
            self.failures -= 1
            raise cv2.error("(-215:Assertion failed) _step >= minstep in function 'Mat'")
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        pass


def test_a_decode_error_yields_an_undecodable_frame() -> None:
    source = RtspSource("rtsp://127.0.0.1:1/x")
    source._capture = FlakyCapture(failures=2)  # type: ignore[assignment]
    assert source.read().image is None
    assert source.read().image is None
    frame = source.read()
    assert frame.image is not None and frame.image.shape == (4, 4, 3)


def test_decode_errors_that_never_stop_break_the_stream() -> None:
    source = RtspSource("rtsp://127.0.0.1:1/x")
    source._capture = FlakyCapture(failures=10_000)  # type: ignore[assignment]
    for _ in range(MAX_CONSECUTIVE_DECODE_ERRORS):
        assert source.read().image is None
    with pytest.raises(SourceError, match="keep failing to decode"):
        source.read()
