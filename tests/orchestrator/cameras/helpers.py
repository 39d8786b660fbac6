"""Helpers shared by the camera tests: configs with test timings, a status/frame recorder."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.cameras import CameraState, CameraStatus, CameraWorker, Frame
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
