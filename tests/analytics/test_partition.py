"""Which partition owns which camera (analytics.partition)."""

from __future__ import annotations

import pytest

from analytics.partition import Partition, partition_of
from trinetra.events.schema import detections_subject


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_camera_has_exactly_one_owner_and_subjects_agree(count: int) -> None:
    cameras = [f"cam-{i}" for i in range(50)] + ["odd.camera id", "kamera-ü"]
    partitions = [Partition(i, count) for i in range(count)]
    for camera in cameras:
        owners = [p.index for p in partitions if p.owns("store.1", camera)]
        assert owners == [partition_of("store.1", camera, count)]
        subject = detections_subject("store.1", camera)
        assert [p.index for p in partitions if p.owns_subject(subject)] == owners
    if count > 1:  # the hash spreads the cameras
        loads = [sum(p.owns("store.1", c) for c in cameras) for p in partitions]
        assert min(loads) > 0


def test_the_split_is_stable() -> None:
    # crc32, not Python's salted hash: the same in every process, forever.
    assert [partition_of("store-1", c, 2) for c in ("entrance", "aisle", "till", "back")] == [
        0,
        1,
        0,
        1,
    ]


def test_impossible_partitions_are_refused() -> None:
    for index, count in ((1, 1), (-1, 2), (0, 0)):
        with pytest.raises(ValueError):
            Partition(index, count)
    with pytest.raises(ValueError):
        Partition(0, 2).owns_subject("other.store.cam.detections")
