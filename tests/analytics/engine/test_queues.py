"""Queues through the engine: length, service interval, estimated wait, abandonment."""

from __future__ import annotations

from typing import Any

import pytest

from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import EngineEvent, QueueAbandoned, QueueSnapshot
from analytics.engine.queues import median
from tests.analytics.helpers import at, box, config, frame, square, zone

QUEUE = square(0.1, 0.1, 0.5, 0.4)
TILL = square(0.6, 0.1, 0.9, 0.4)
OUTSIDE = (0.3, 0.8)


class Scene:
    """People placed by hand, 10 frames per second."""

    def __init__(self, engine: StoreAnalytics) -> None:
        self.engine = engine
        self.t = 0.0
        self.seq = 0
        self.where: dict[int, tuple[float, float]] = {}
        self.events: list[EngineEvent] = []

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * 10)):
            self.seq += 1
            boxes = [box(tid, foot) for tid, foot in self.where.items()]
            self.events += self.engine.process(frame(self.seq, self.t, boxes))
            self.t += 0.1

    def snapshots(self) -> list[QueueSnapshot]:
        return [e for e in self.events if isinstance(e, QueueSnapshot)]


def _engine(**queue_extra: Any) -> StoreAnalytics:
    return StoreAnalytics(
        config(
            zones=[
                zone("queue", QUEUE, kind="queue", **queue_extra),
                zone("till", TILL, kind="checkout"),
            ]
        )
    )


def test_median() -> None:
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_snapshots_once_per_second_of_frame_time() -> None:
    scene = Scene(_engine())
    scene.run(10.0)
    snaps = scene.snapshots()
    assert len(snaps) == 10
    assert [s.at.second for s in snaps] == list(range(10))
    assert snaps[0].estimated_wait_s is None and snaps[0].length == 0


def test_service_intervals_and_estimated_wait() -> None:
    scene = Scene(_engine(wait_threshold_s=20.0))
    # four people queue; every 5 s the head goes to the till
    for tid in range(1, 5):
        scene.where[tid] = (0.2 + 0.05 * tid, 0.25)
    scene.run(2.0)
    for tid in range(1, 4):
        scene.where[tid] = (0.75, 0.25)  # at the till
        scene.run(5.0)
        del scene.where[tid]  # leaves the camera
        scene.run(0.1)
        scene.events += scene.engine.end_track("cam-1", tid, at(scene.t))
    last = scene.snapshots()[-1]
    assert last.length == 1
    assert last.served == 3
    # first departure has no predecessor; the next two were ~5 s apart
    assert last.median_service_s == pytest.approx(5.1, abs=0.2)
    assert last.estimated_wait_s == pytest.approx(last.median_service_s)
    assert last.observed_wait_s is not None and last.observed_wait_s > 5.0
    assert not last.over_wait_threshold
    busy = [s for s in scene.snapshots() if s.length == 2 and s.median_service_s is not None]
    assert busy
    service = busy[-1].median_service_s
    assert service is not None
    assert busy[-1].estimated_wait_s == pytest.approx(2 * service)


def test_abandonment() -> None:
    scene = Scene(_engine())
    scene.where[1] = (0.3, 0.25)
    scene.run(3.0)
    scene.where[1] = OUTSIDE  # walks away, not to the till
    scene.run(25.0)
    abandoned = [e for e in scene.events if isinstance(e, QueueAbandoned)]
    assert len(abandoned) == 1
    assert abandoned[0].track_id == 1
    assert abandoned[0].waited_s == pytest.approx(3.0, abs=0.15)
    assert scene.snapshots()[-1].abandoned == 1
    assert scene.snapshots()[-1].served == 0


def test_late_checkout_entry_is_a_service() -> None:
    scene = Scene(_engine())
    scene.where[1] = (0.3, 0.25)
    scene.run(3.0)
    scene.where[1] = OUTSIDE
    scene.run(5.0)  # wanders, then goes to the till within the abandon window
    scene.where[1] = (0.75, 0.25)
    scene.run(3.0)
    assert not [e for e in scene.events if isinstance(e, QueueAbandoned)]
    assert scene.snapshots()[-1].served == 1


def test_queue_without_checkout_counts_every_departure() -> None:
    engine = StoreAnalytics(config(zones=[zone("queue", QUEUE, kind="queue")]))
    scene = Scene(engine)
    scene.where[1] = (0.3, 0.25)
    scene.run(3.0)
    scene.where[1] = OUTSIDE
    scene.run(25.0)
    assert not [e for e in scene.events if isinstance(e, QueueAbandoned)]
    assert scene.snapshots()[-1].served == 1
