"""False-merge detection: one identity on two tracks that one person could not both be
(two tracks at once on one camera, or on two cameras faster than anyone can walk between
them). One of the two assignments is wrong and nobody can tell which, so the caller
withdraws both and raises an alert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from identity.topology import CameraTopology, Interval

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Conflict(Generic[K]):
    other: K
    other_interval: Interval
    gap_s: float
    min_transit_s: float


class FalseMergeDetector:
    def __init__(self, topology: CameraTopology) -> None:
        self.topology = topology

    def conflicts(
        self, interval: Interval, others: Iterable[tuple[K, Interval]]
    ) -> list[Conflict[K]]:
        """The tracks among `others` that the person of `interval` cannot also be."""
        found: list[Conflict[K]] = []
        for key, other in others:
            verdict = self.topology.compatible(interval, other)
            if not verdict.ok:
                found.append(Conflict(key, other, verdict.gap_s, verdict.min_transit_s))
        return found
