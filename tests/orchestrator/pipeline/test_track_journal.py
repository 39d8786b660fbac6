"""track.ended says when the tracker gave the track up (the schema's occurred_at), beside
when it was last seen: a track lost after the tracker's buffer ends at the frame that
dropped it, one closed early at the camera's last analysed frame, and one a restart
closes at its last sighting (so a repeated restart repeats the same event)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from orchestrator.pipeline.track_journal import FrameContext, TrackJournal
from orchestrator.tracking.byte_tracker import TrackUpdate
from trinetra.events.schema import TrackEndedEvent
from trinetra.inference.detections import Detections

T0 = 1_790_000_000.0


def frame(seq: int) -> FrameContext:
    return FrameContext("cam-1", "blr-01", seq, T0 + seq * 0.1, 640, 480)


def seen(*track_ids: int, started: tuple[int, ...] = ()) -> TrackUpdate:
    n = len(track_ids)
    people = Detections(
        xyxy=np.tile(np.array([[10.0, 20.0, 60.0, 200.0]], dtype=np.float32), (n, 1)),
        confidence=np.full(n, 0.9, dtype=np.float32),
        tracker_id=np.array(track_ids, dtype=np.int64),
    )
    return TrackUpdate(people, np.arange(n), started, ())


def lost(*track_ids: int) -> TrackUpdate:
    empty = Detections(
        xyxy=np.zeros((0, 4), dtype=np.float32), confidence=np.zeros(0, dtype=np.float32)
    )
    return TrackUpdate(empty, np.zeros(0, dtype=np.int64), (), track_ids)


def ended(events: Sequence[object]) -> list[TrackEndedEvent]:
    return [e for e in events if isinstance(e, TrackEndedEvent)]


def test_a_lost_track_ends_at_the_frame_that_dropped_it() -> None:
    journal = TrackJournal()
    journal.record(seen(1, started=(1,)), frame(0))
    journal.record(seen(1), frame(1))
    for seq in range(2, 31):  # the tracker's buffer: unseen, not yet dropped
        assert journal.record(lost(), frame(seq)) == []
    [event] = ended(journal.record(lost(1), frame(31)))
    assert event.last_seen_at.timestamp() == frame(1).timestamp
    assert event.occurred_at.timestamp() == frame(31).timestamp
    assert event.occurred_at > event.last_seen_at
    assert event.duration_s == frame(1).timestamp - frame(0).timestamp
    assert event.end_reason == "lost"


def test_an_early_end_is_stamped_at_the_last_analysed_frame() -> None:
    journal = TrackJournal()
    journal.record(seen(1, 2, started=(1, 2)), frame(0))
    journal.record(seen(2), frame(5))
    events = journal.end_all(frame(9), "camera_stopped")
    assert {e.track_id: e.last_seen_at.timestamp() for e in events} == {
        1: frame(0).timestamp,
        2: frame(5).timestamp,
    }
    assert {e.occurred_at.timestamp() for e in events} == {frame(9).timestamp}
    assert journal.active == 0


def test_a_restart_closes_at_the_last_sighting_the_same_way_twice() -> None:
    def closed() -> TrackEndedEvent:
        journal = TrackJournal()
        journal.record(seen(7, started=(7,)), frame(0))
        journal.record(seen(7), frame(3))
        [event] = journal.end_all_on("cam-1", "blr-01", "node_restart")
        return event

    first, again = closed(), closed()
    assert first.occurred_at == first.last_seen_at
    assert first.event_id == again.event_id  # deduplicated by the bus
