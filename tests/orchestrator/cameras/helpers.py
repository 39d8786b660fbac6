"""Small async helpers shared by the camera tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.cameras import CameraState, CameraStatus, CameraWorker, Frame
from orchestrator.metrics import OrchestratorMetrics
from trinetra.config import CameraConfig, CameraRole


def camera(camera_id: str, source: str, **overrides: object) -> CameraConfig:
    """A config with test-friendly defaults: short timeouts and reconnect delays."""
    data: dict[str, object] = {
        "id": camera_id,
        "name": camera_id,
        "role": CameraRole.TRACKING,
        "source": source,
        "target_fps": 10,
        "open_timeout_s": 5,
        "read_timeout_s": 3,
        "reconnect": {"initial_s": 0.2, "max_s": 1.0},
    }
    data.update(overrides)
    return CameraConfig.model_validate(data)


@dataclass
class Recorder:
    """Collects a worker's statuses (callback) and frames (consumer task)."""

    statuses: list[CameraStatus] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)

    def on_status(self, status: CameraStatus) -> None:
        self.statuses.append(status)

    def states(self) -> list[CameraState]:
        return [status.state for status in self.statuses]

    async def consume(self, worker: CameraWorker) -> None:
        async for frame in worker.frames():
            self.frames.append(frame)


async def wait_until(condition: Callable[[], bool], within_s: float, what: str) -> float:
    """Poll `condition` until true; return the seconds it took, fail after `within_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within_s:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def sample(metrics: OrchestratorMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
