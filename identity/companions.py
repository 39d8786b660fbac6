"""Companion detection: tracks that move together on one camera (a couple, a family).

Two people walking together are the classic false-merge risk (similar lighting, pose and
often similar looks), so their tracks get the stricter companion threshold. A pair is
sampled whenever both tracks are observed within `time_tolerance_s`; it becomes a
companion pair once at least `min_co_observations` samples within `window_s` exist and at
least `min_fraction` of them are co-located (IoU above `iou_threshold`, or centres within
`max_center_distance` mean box widths). The flag then stays for the tracks' lifetimes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from identity.config import CompanionConfig

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def center_distance_in_widths(a: Box, b: Box) -> float:
    width = ((a[2] - a[0]) + (b[2] - b[0])) / 2
    if width <= 0:
        return math.inf
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return math.hypot(dx, dy) / width


@dataclass
class _CameraState:
    last: dict[int, tuple[float, Box]] = field(default_factory=dict)
    pairs: dict[tuple[int, int], deque[tuple[float, bool]]] = field(default_factory=dict)
    flagged: set[int] = field(default_factory=set)


class CompanionDetector:
    def __init__(self, config: CompanionConfig | None = None) -> None:
        self.config = config or CompanionConfig()
        self._cameras: dict[str, _CameraState] = {}

    def colocated(self, a: Box, b: Box) -> bool:
        c = self.config
        return (
            iou(a, b) >= c.iou_threshold or center_distance_in_widths(a, b) <= c.max_center_distance
        )

    def observe(self, camera_id: str, track_id: int, t: float, box: Box) -> list[int]:
        """Record a track's box; returns the tracks newly flagged as companions."""
        if not self.config.enabled:
            return []
        c = self.config
        state = self._cameras.setdefault(camera_id, _CameraState())
        newly: list[int] = []
        for other, (t_other, box_other) in list(state.last.items()):
            if other == track_id:
                continue
            if t_other < t - c.window_s:
                del state.last[other]
                continue
            if abs(t - t_other) > c.time_tolerance_s:
                continue
            key = (min(track_id, other), max(track_id, other))
            samples = state.pairs.setdefault(key, deque())
            if samples and t - samples[-1][0] < c.time_tolerance_s:
                continue  # this moment of the pair is already sampled
            samples.append((t, self.colocated(box, box_other)))
            while samples and samples[0][0] < t - c.window_s:
                samples.popleft()
            together = sum(1 for _, co in samples if co)
            if len(samples) >= c.min_co_observations and together >= c.min_fraction * len(samples):
                for member in key:
                    if member not in state.flagged:
                        state.flagged.add(member)
                        newly.append(member)
        state.last[track_id] = (t, box)
        return newly

    def is_companion(self, camera_id: str, track_id: int) -> bool:
        state = self._cameras.get(camera_id)
        return state is not None and track_id in state.flagged

    def forget(self, camera_id: str, track_id: int) -> None:
        state = self._cameras.get(camera_id)
        if state is None:
            return
        state.last.pop(track_id, None)
        state.flagged.discard(track_id)
        for key in [k for k in state.pairs if track_id in k]:
            del state.pairs[key]
