import numpy as np

from orchestrator.tracking import ByteTracker
from trinetra.inference.detections import Detections


def test_clear_keeps_the_id_counter() -> None:
    tracker = ByteTracker()
    people = Detections(
        np.array([[10, 10, 50, 120], [200, 10, 240, 120]], np.float32),
        np.array([0.9, 0.9], np.float32),
    )
    ids: set[int] = set()
    for _ in range(3):
        update = tracker.update(people)
        ids |= set(update.started)
    assert ids == {1, 2}
    tracker.clear()
    resumed = ByteTracker.from_state(tracker.state_dict())
    later: set[int] = set()
    for _ in range(3):
        later |= set(resumed.update(people).started)
    assert later == {3, 4}
