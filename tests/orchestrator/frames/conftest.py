"""Fixtures for the frame-policy tests."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from orchestrator.metrics import OrchestratorMetrics
from tests.support.media import video_frame


@pytest.fixture(scope="session")
def real_frame() -> NDArray[np.uint8]:
    return video_frame("vtest.avi", 0)


@pytest.fixture
def metrics() -> OrchestratorMetrics:
    return OrchestratorMetrics(CollectorRegistry())
