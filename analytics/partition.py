"""Which analytics instance owns which camera.

N instances split a store's cameras: instance i of n owns the cameras whose stable hash
`crc32("<store token>.<camera token>") % n == i` (tokens as in the subjects,
`trinetra.events.schema.subject_token`). Why this and not JetStream's own tools:

- JetStream has no consumer groups keyed by subject: several instances pulling from one
  consumer get messages round-robin, so one camera's frames would be split between
  processes and its tracks, stays and crossings broken up. Each camera must have a
  single owner that sees its frames in order.
- So each partition has its own durable consumer, and its owner reads the store's
  detections in stream order and keeps only its own cameras' (deciding by the subject,
  before decoding anything). The hash needs no coordination, survives restarts, and a
  camera added later lands somewhere without a configuration change.
- crc32 rather than Python's `hash`, which is salted per process.

The price: cross-camera figures (a physical area seen by cameras in two partitions, a
visit linked across cameras) are complete only inside one partition. An area split
across partitions is not reported by either (see `analytics.processor`), never reported
wrong; cross-camera journeys are joined in the database through `track_uid`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from trinetra.events.schema import SUBJECT_ROOT, subject_token

__all__ = ["Partition", "partition_of"]


def _bucket(store_token: str, camera_token: str, partitions: int) -> int:
    return zlib.crc32(f"{store_token}.{camera_token}".encode()) % partitions


def partition_of(store_id: str, camera_id: str, partitions: int) -> int:
    """The partition (0..partitions-1) that owns a camera."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    return _bucket(subject_token(store_id), subject_token(camera_id), partitions)


@dataclass(frozen=True, slots=True)
class Partition:
    """Instance `index` of `count`."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count} does not exist")

    def owns(self, store_id: str, camera_id: str) -> bool:
        return self.count == 1 or partition_of(store_id, camera_id, self.count) == self.index

    def owns_subject(self, subject: str) -> bool:
        """Whether a `trinetra.<store>.<camera>.<family>` subject is one of ours."""
        if self.count == 1:
            return True
        root, store_token, camera_token, _family = subject.split(".", 3)
        if root != SUBJECT_ROOT:
            raise ValueError(f"not a TRINETRA subject: {subject!r}")
        return _bucket(store_token, camera_token, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
