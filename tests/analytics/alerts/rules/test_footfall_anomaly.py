"""footfall_anomaly: the same weekday-hour of previous weeks as the baseline; too high is
raised during the hour, too low when it closes; resolved when an hour closes normal."""

from __future__ import annotations

from analytics.alerts.engine import AlertEngine
from analytics.alerts.inputs import CameraActivity, LineCrossing
from tests.analytics.alerts.rules.helpers import OTHER_CAM, engine, raised, resolved, seconds, t
from trinetra.events.schema import RuleAlertEvent

WEEK = 7 * 86_400
HOUR = 3600
FOOTFALL = {
    "kind": "footfall_anomaly",
    "id": "door-traffic",
    "name": "Door traffic",
    "line_id": "door",
    "direction": "in",
    "z_threshold": 3,
    "baseline_weeks": 4,
    "min_history_weeks": 3,
    "cooldown_s": 0,
}


def hour_of_crossings(
    alerts: AlertEngine, start: float, count: int, direction: str = "in"
) -> list[RuleAlertEvent]:
    """The camera heard at `start`, `count` crossings one a minute, nothing closed."""
    events = alerts.feed(CameraActivity(OTHER_CAM, t(start)))
    for n in range(count):
        at = t(start + 60 * (n + 1))
        events += alerts.feed(LineCrossing(OTHER_CAM, "door", direction, at, at))  # type: ignore[arg-type]
    return events


def with_history(counts: list[int]) -> AlertEngine:
    """Previous weeks' 10:00 hours (T0 is Monday 10:00 UTC) with these counts, oldest
    first, each followed by a quiet 11:00 hour."""
    alerts = engine(FOOTFALL)
    for weeks_ago, count in zip(range(len(counts), 0, -1), counts, strict=True):
        start = -weeks_ago * WEEK
        assert hour_of_crossings(alerts, start, count) == []
        assert alerts.feed(CameraActivity(OTHER_CAM, t(start + HOUR))) == []
        assert alerts.feed(CameraActivity(OTHER_CAM, t(start + 2 * HOUR))) == []
    return alerts


def test_a_count_far_above_the_baseline_is_raised_during_the_hour() -> None:
    alerts = with_history([10, 12, 11])  # mean 11, sd 1: band 8..14
    events = hour_of_crossings(alerts, 0, 20)
    (alert,) = raised(events)
    assert len(events) == 1  # dedup: crossings 15..20 add nothing
    assert seconds(alert) == 14 * 60  # the 14th crossing reached z = 3
    assert alert.value == 14.0 and alert.unit == "crossings"
    assert alert.subject.line_id == "door" and alert.subject.camera_id == OTHER_CAM
    assert alert.details["mean"] == 11.0 and alert.details["z"] == 3.0
    assert alert.details["bound"] == 14.0 and alert.details["samples"] == 3
    assert alert.condition_since.timestamp() == t(0)
    # The 10:00 hour closes still anomalous: the alert stays open.
    assert alerts.feed(CameraActivity(OTHER_CAM, t(HOUR))) == []
    # The 11:00 hour closes normal (its baseline is quiet too): resolved then.
    (done,) = resolved(alerts.feed(CameraActivity(OTHER_CAM, t(2 * HOUR))))
    assert seconds(done) == 2 * HOUR and done.raised_event_id == alert.event_id


def test_a_count_far_below_the_baseline_is_raised_when_the_hour_closes() -> None:
    alerts = with_history([30, 34, 32])
    assert hour_of_crossings(alerts, 0, 5) == []  # low, but the hour is not over
    (alert,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(HOUR + 1))))
    assert seconds(alert) == HOUR
    z = alert.details["z"]
    assert alert.value == 5.0 and isinstance(z, float) and z < -3


def test_a_normal_hour_and_a_short_history_raise_nothing() -> None:
    alerts = with_history([10, 12, 11])
    assert hour_of_crossings(alerts, 0, 12) == []
    assert alerts.feed(CameraActivity(OTHER_CAM, t(HOUR))) == []
    short = with_history([10, 12])  # two weeks of the three needed
    assert hour_of_crossings(short, 0, 60) == []
    assert short.feed(CameraActivity(OTHER_CAM, t(HOUR))) == []


def test_only_the_rules_direction_counts() -> None:
    alerts = with_history([10, 12, 11])
    assert hour_of_crossings(alerts, 0, 40, direction="out") == []


def test_an_hour_the_camera_was_silent_is_missing_not_zero() -> None:
    alerts = engine(FOOTFALL)
    # Three weeks: heard at 10:00 with 10 crossings; one week the camera was down.
    for weeks_ago in (4, 3, 1):
        hour_of_crossings(alerts, -weeks_ago * WEEK, 10)
        alerts.feed(CameraActivity(OTHER_CAM, t(-weeks_ago * WEEK + HOUR)))
    # Had the silent week counted as 0, the baseline would be 7.5 +- 5 and 10 normal.
    events = hour_of_crossings(alerts, 0, 14)
    (alert,) = raised(events)
    assert alert.details["samples"] == 3 and alert.details["mean"] == 10.0


def test_the_cooldown_holds_back_the_next_anomaly() -> None:
    alerts = engine({**FOOTFALL, "cooldown_s": 3600})
    for weeks_ago in (3, 2, 1):  # 10:00, 11:00 and 12:00 each saw 10, 12 or 11 people
        start = -weeks_ago * WEEK
        for hour in range(3):
            hour_of_crossings(alerts, start + hour * HOUR, 10 + (weeks_ago % 3))
        alerts.feed(CameraActivity(OTHER_CAM, t(start + 3 * HOUR)))
    first = raised(hour_of_crossings(alerts, 0, 20))  # 10:00: far too many
    assert [seconds(e) for e in first] == [14 * 60]
    assert hour_of_crossings(alerts, HOUR, 11) == []  # 11:00: the 10:00 hour closes high
    late = hour_of_crossings(alerts, 2 * HOUR, 20)  # 11:00 closed normal: resolved at 12:00
    assert [(e.kind, seconds(e)) for e in late] == [("alert.resolved", 2 * HOUR)]
    # 12:00 is far too high again by 12:14, but the cooldown runs until 13:00: raised
    # then, when the hour closes still too high.
    (again,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(3 * HOUR))))
    assert seconds(again) == 3 * HOUR and again.event_id != first[0].event_id
