"""All tracks of one tracker as parallel arrays (structure of arrays).

One Python object per track would make every frame pay attribute lookups and list building
per track; with columns the tracker selects, updates and drops tracks with a handful of
numpy calls whatever the number of people in view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orchestrator.tracking import kalman

Bool = NDArray[np.bool_]
Int = NDArray[np.int64]
Index = NDArray[np.intp] | Bool


@dataclass
class TrackTable:
    """Row i of every column describes track i.

    `track_id` is 0 until the track is confirmed: ids are handed out only to confirmed
    tracks so the public ids have no gaps left by one-frame false positives.
    """

    mean: kalman.Array  # (n, 8) Kalman state
    cov: kalman.Array  # (n, 3, 4) Kalman covariance, see kalman.initiate
    lost: Bool  # not matched in the latest frame, kept for re-identification
    confirmed: Bool  # matched on two consecutive frames (or born on the first frame)
    track_id: Int  # public id, 0 before confirmation
    last_frame: Int  # frame of the latest matched detection
    start_frame: Int  # frame the track was born

    @classmethod
    def empty(cls) -> TrackTable:
        return cls.born(np.zeros((0, 4), dtype=np.float64), frame=0, confirmed=False)

    @classmethod
    def born(cls, measurements: kalman.Array, frame: int, confirmed: bool) -> TrackTable:
        """New tracks at (cx, cy, a, h) measurements, as ByteTrack's `activate`."""
        n = len(measurements)
        mean, cov = kalman.initiate(measurements)
        return cls(
            mean=mean,
            cov=cov,
            lost=np.zeros(n, dtype=np.bool_),
            confirmed=np.full(n, confirmed, dtype=np.bool_),
            track_id=np.zeros(n, dtype=np.int64),
            last_frame=np.full(n, frame, dtype=np.int64),
            start_frame=np.full(n, frame, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.mean)

    def select(self, rows: Index) -> TrackTable:
        return TrackTable(
            mean=self.mean[rows],
            cov=self.cov[rows],
            lost=self.lost[rows],
            confirmed=self.confirmed[rows],
            track_id=self.track_id[rows],
            last_frame=self.last_frame[rows],
            start_frame=self.start_frame[rows],
        )

    def concat(self, other: TrackTable) -> TrackTable:
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        return TrackTable(
            mean=np.concatenate([self.mean, other.mean]),
            cov=np.concatenate([self.cov, other.cov]),
            lost=np.concatenate([self.lost, other.lost]),
            confirmed=np.concatenate([self.confirmed, other.confirmed]),
            track_id=np.concatenate([self.track_id, other.track_id]),
            last_frame=np.concatenate([self.last_frame, other.last_frame]),
            start_frame=np.concatenate([self.start_frame, other.start_frame]),
        )

    def boxes(self) -> kalman.Array:
        """Current estimate of every track as xyxy."""
        return kalman.xyah_to_xyxy(self.mean[:, :4])
