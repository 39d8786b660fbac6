"""The store's camera graph: how fast anyone can get from one camera's view to another's.

Two uses: the spatiotemporal gate (may the person last seen on camera A at t_a be on
camera B at t_b?) and the false-merge check (may one person be both of two tracks?). Both
reduce to comparing two time intervals on two cameras with `compatible`.
"""

from __future__ import annotations

from dataclasses import dataclass

from identity.config import TopologyConfig


@dataclass(frozen=True, slots=True)
class Interval:
    """When a track (or one observation, first == last) was seen on a camera; seconds."""

    camera_id: str
    first: float
    last: float

    @classmethod
    def point(cls, camera_id: str, t: float) -> Interval:
        return cls(camera_id, t, t)


@dataclass(frozen=True, slots=True)
class Compatibility:
    ok: bool
    gap_s: float  # time between the intervals; negative when they overlap
    min_transit_s: float


class CameraTopology:
    def __init__(self, config: TopologyConfig | None = None) -> None:
        self.config = config or TopologyConfig()
        self.tolerance_s = self.config.tolerance_s
        self._transit: dict[tuple[str, str], float] = {}
        self._overlapping: set[frozenset[str]] = set()
        for t in self.config.transits:
            if t.camera_a == t.camera_b:
                raise ValueError(f"transit from {t.camera_a!r} to itself")
            self._transit[(t.camera_a, t.camera_b)] = t.min_transit_s
            if t.bidirectional:
                self._transit[(t.camera_b, t.camera_a)] = t.min_transit_s
            if t.overlapping:
                self._overlapping.add(frozenset((t.camera_a, t.camera_b)))

    def min_transit_s(self, from_camera: str, to_camera: str) -> float:
        if from_camera == to_camera:
            return 0.0
        return self._transit.get((from_camera, to_camera), self.config.default_min_transit_s)

    def overlapping(self, a: str, b: str) -> bool:
        """The cameras share a view: one person may be on both at the same time."""
        return a != b and frozenset((a, b)) in self._overlapping

    def compatible(self, a: Interval, b: Interval) -> Compatibility:
        """Could one person be both `a` and `b`? Same camera: only if the intervals overlap
        by no more than the tolerance. Different cameras: only if the time between them
        (allowing the tolerance) covers the minimum transit, or the views overlap."""
        if a.last <= b.first:
            gap, transit = b.first - a.last, self.min_transit_s(a.camera_id, b.camera_id)
        elif b.last <= a.first:
            gap, transit = a.first - b.last, self.min_transit_s(b.camera_id, a.camera_id)
        else:
            gap = -(min(a.last, b.last) - max(a.first, b.first))
            transit = min(
                self.min_transit_s(a.camera_id, b.camera_id),
                self.min_transit_s(b.camera_id, a.camera_id),
            )
        if self.overlapping(a.camera_id, b.camera_id):
            return Compatibility(True, gap, transit)
        return Compatibility(gap + self.tolerance_s >= transit, gap, transit)
