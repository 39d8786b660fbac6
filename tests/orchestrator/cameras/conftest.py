"""Fixtures for the camera tests: real media, real RTSP and MJPEG servers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from devservices.mjpeg import encode_frames
from orchestrator.metrics import OrchestratorMetrics
from tests.support.media import media_path

__all__ = ["metrics", "vtest_frames", "vtest_jpegs"]


@pytest.fixture(scope="session")
def vtest_frames() -> list[NDArray[np.uint8]]:
    """The first 40 frames of vtest.avi (768x576 BGR)."""
    capture = cv2.VideoCapture(str(media_path("vtest.avi")))
    frames: list[NDArray[np.uint8]] = []
    try:
        while len(frames) < 40:
            ok, frame = capture.read()
            assert ok, "vtest.avi is shorter than expected"
            frames.append(np.asarray(frame, np.uint8))
    finally:
        capture.release()
    return frames


@pytest.fixture(scope="session")
def vtest_jpegs(vtest_frames: list[NDArray[np.uint8]]) -> list[bytes]:
    return encode_frames(vtest_frames)


@pytest.fixture
def metrics() -> OrchestratorMetrics:
    """Metrics on a private registry, so counts start at zero in every test."""
    return OrchestratorMetrics(CollectorRegistry())
