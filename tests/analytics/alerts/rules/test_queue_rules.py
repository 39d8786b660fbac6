"""queue_length and queue_wait: raise after the hold, dedup, auto-resolve, cooldown."""

from __future__ import annotations

from analytics.alerts.inputs import CameraActivity, QueueState
from tests.analytics.alerts.rules.helpers import (
    CAM,
    engine,
    kinds,
    raised,
    resolved,
    seconds,
    t,
)
from trinetra.events.schema import AlertRaisedEvent
from trinetra.vocabulary import EventKind

QUEUE_LENGTH = {
    "kind": "queue_length",
    "id": "long-queue",
    "name": "Long queue",
    "zone_id": "queue",
    "min_length": 3,
    "for_s": 10,
    "cooldown_s": 60,
    "severity": "critical",
}


def snapshots(start: int, stop: int, length: int, wait: float | None = None) -> list[QueueState]:
    return [QueueState(CAM, "queue", length, wait, t(s)) for s in range(start, stop)]


def test_queue_length_raises_at_the_end_of_the_hold_then_dedups_and_resolves() -> None:
    alerts = engine(QUEUE_LENGTH)
    events = []
    for item in snapshots(0, 10, 3):
        events += alerts.feed(item)
    assert events == []  # held 9 s of 10
    events = alerts.feed(QueueState(CAM, "queue", 4, None, t(12.5)))
    (alert,) = raised(events)
    # The condition was met at 10 s (long since 0 s, held 10 s), revealed at 12.5 s.
    assert seconds(alert) == 10.0
    assert alert.condition_since.timestamp() == t(0)
    assert (alert.value, alert.threshold, alert.unit) == (3.0, 3.0, "people")
    assert alert.severity == "critical" and alert.rule_kind == "queue_length"
    assert alert.subject.zone_id == "queue" and alert.subject.camera_id == CAM
    assert alert.dedup_key == "long-queue/zone:queue"
    assert "Till queue" in alert.message

    # Dedup: still long, one open alert.
    for item in snapshots(13, 20, 6):
        assert alerts.feed(item) == []
    (done,) = resolved(alerts.feed(QueueState(CAM, "queue", 1, None, t(20))))
    assert seconds(done) == 20.0
    assert done.raised_event_id == alert.event_id
    assert done.reason == "cleared" and done.value == 1.0
    assert done.details["peak"] == 6.0
    assert done.duration_s == 10.0


def test_queue_length_below_the_hold_never_raises() -> None:
    alerts = engine(QUEUE_LENGTH)
    events = []
    for item in [*snapshots(0, 9, 5), *snapshots(9, 12, 2), *snapshots(12, 21, 5)]:
        events += alerts.feed(item)
    assert events == []  # two runs of 9 s each: never 10 s in a row


def test_queue_length_cooldown_delays_the_next_alert() -> None:
    alerts = engine(QUEUE_LENGTH)
    events = []
    for item in [*snapshots(0, 15, 3), *snapshots(15, 16, 0), *snapshots(16, 100, 5)]:
        events += alerts.feed(item)
    assert kinds(events) == ["alert.raised", "alert.resolved", "alert.raised"]
    first, done, second = events
    assert isinstance(second, AlertRaisedEvent)
    assert (seconds(first), seconds(done)) == (10.0, 15.0)
    # Long again from 16 s (held by 26 s), but the cooldown runs until 15 + 60 = 75 s.
    assert seconds(second) == 75.0
    assert second.condition_since.timestamp() == t(16)
    assert second.event_id != first.event_id


def test_queue_length_is_met_on_the_cameras_clock_without_a_new_snapshot() -> None:
    alerts = engine({**QUEUE_LENGTH, "for_s": 30})
    assert alerts.feed(QueueState(CAM, "queue", 4, None, t(0))) == []
    assert alerts.feed(CameraActivity(CAM, t(29))) == []
    (alert,) = raised(alerts.feed(CameraActivity(CAM, t(31))))
    assert seconds(alert) == 30.0
    # Another camera's clock does not move this camera's deadlines.
    other = engine({**QUEUE_LENGTH, "for_s": 30})
    other.feed(QueueState(CAM, "queue", 4, None, t(0)))
    assert other.feed(CameraActivity("cam-b", t(100))) == []


def test_queue_wait_raises_at_once_and_resolves_under_the_threshold() -> None:
    rule = {
        "kind": "queue_wait",
        "id": "slow-till",
        "name": "Slow till",
        "zone_id": "queue",
        "min_wait_s": 120,
        "cooldown_s": 30,
    }
    alerts = engine(rule)
    events = []
    # No service seen yet: no estimate, no alert however long the queue.
    for item in snapshots(0, 5, 8, None):
        events += alerts.feed(item)
    assert events == []
    for item in snapshots(5, 10, 8, 160.0):
        events += alerts.feed(item)
    (alert,) = raised(events)
    assert seconds(alert) == 5.0
    assert (alert.value, alert.threshold, alert.unit) == (160.0, 120.0, "seconds")
    events = []
    for item in [*snapshots(10, 11, 2, 40.0), *snapshots(11, 60, 8, 200.0)]:
        events += alerts.feed(item)
    done, again = events
    assert done.kind is EventKind.ALERT_RESOLVED and seconds(done) == 10.0
    assert again.kind is EventKind.ALERT_RAISED and seconds(again) == 40.0  # 10 + 30 s cooldown


def test_the_same_input_gives_the_same_events_and_ids() -> None:
    items = [*snapshots(0, 15, 3), *snapshots(15, 16, 0), *snapshots(16, 100, 5)]
    first, second = engine(QUEUE_LENGTH), engine(QUEUE_LENGTH)
    a = [e for item in items for e in first.feed(item)]
    b = [e for item in items for e in second.feed(item)]
    assert [e.event_id for e in a] == [e.event_id for e in b]
    assert [e.model_dump(exclude={"published_at"}) for e in a] == [
        e.model_dump(exclude={"published_at"}) for e in b
    ]
