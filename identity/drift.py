"""Drift monitor: the rolling mean match score of each camera against a baseline.

Fed with the score of every observation of a resolved track against its own identity
(including scores below the match threshold, so a drifting camera shows up as a falling
mean rather than being hidden by the threshold). When the mean of a full-enough window
falls more than `margin` below `baseline_mean` the camera enters `drifting` (one alert);
it returns to normal once the drop is back within half the margin (hysteresis, so a mean
hovering at the edge does not alert on every score).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from identity.config import DriftConfig
from identity.metrics import IdentityMetrics


@dataclass(frozen=True, slots=True)
class DriftChange:
    camera_id: str
    state: Literal["drifting", "recovered"]
    rolling_mean: float
    samples: int
    baseline_mean: float
    margin: float


class _Window:
    def __init__(self, size: int) -> None:
        self.scores: deque[float] = deque(maxlen=size)
        self.total = 0.0
        self.drifting = False

    def add(self, score: float) -> None:
        if len(self.scores) == self.scores.maxlen:
            self.total -= self.scores[0]
        self.scores.append(score)
        self.total += score

    @property
    def mean(self) -> float:
        return self.total / len(self.scores) if self.scores else 0.0


class DriftMonitor:
    def __init__(self, config: DriftConfig | None = None, metrics: IdentityMetrics | None = None):
        self.config = config or DriftConfig()
        self.metrics = metrics if metrics is not None else IdentityMetrics()
        self._windows: dict[str, _Window] = {}

    def record(self, camera_id: str, score: float) -> DriftChange | None:
        """Add one score; returns the state change it caused, if any."""
        c = self.config
        if not c.enabled:
            return None
        window = self._windows.get(camera_id)
        if window is None:
            window = self._windows[camera_id] = _Window(c.window)
        window.add(score)
        mean = window.mean
        self.metrics.drift_mean.labels(camera_id).set(mean)
        if len(window.scores) < c.min_samples:
            return None
        drop = c.baseline_mean - mean
        if not window.drifting and drop > c.margin:
            window.drifting = True
            self.metrics.drift_alerts.labels(camera_id).inc()
            self.metrics.drifting.labels(camera_id).set(1)
            return DriftChange(
                camera_id, "drifting", mean, len(window.scores), c.baseline_mean, c.margin
            )
        if window.drifting and drop <= c.margin / 2:
            window.drifting = False
            self.metrics.drifting.labels(camera_id).set(0)
            return DriftChange(
                camera_id, "recovered", mean, len(window.scores), c.baseline_mean, c.margin
            )
        return None

    def rolling_mean(self, camera_id: str) -> float | None:
        window = self._windows.get(camera_id)
        return window.mean if window is not None and window.scores else None

    def is_drifting(self, camera_id: str) -> bool:
        window = self._windows.get(camera_id)
        return window is not None and window.drifting
