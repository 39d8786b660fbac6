"""zone_over_capacity, loitering and staff_only_presence: raise, dedup, auto-resolve,
cooldown."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.alerts.inputs import CameraActivity, StayEnded, StayStarted, ZoneOccupancy
from tests.analytics.alerts.rules.helpers import (
    OTHER_CAM,
    engine,
    kinds,
    raised,
    resolved,
    seconds,
    t,
)

CAPACITY = {
    "kind": "zone_over_capacity",
    "id": "floor-full",
    "name": "Floor full",
    "zone_id": "floor",
    "cooldown_s": 20,
}
LOITERING = {
    "kind": "loitering",
    "id": "loiter",
    "name": "Loitering",
    "zone_id": "floor",
    "min_dwell_s": 60,
    "cooldown_s": 0,
}
STAFF = {
    "kind": "staff_only_presence",
    "id": "back-room",
    "name": "Back room",
    "zone_id": "back",
    "cooldown_s": 10,
}


def occupancy(zone: str, count: int, second: float) -> ZoneOccupancy:
    return ZoneOccupancy(OTHER_CAM, zone, count, t(second))


def test_over_capacity_uses_the_zones_capacity_and_resolves_below_it() -> None:
    alerts = engine(CAPACITY)
    assert alerts.feed(occupancy("floor", 4, 0)) == []
    (alert,) = raised(alerts.feed(occupancy("floor", 5, 3)))
    assert seconds(alert) == 3.0
    assert (alert.value, alert.threshold) == (5.0, 5.0)
    assert alerts.feed(occupancy("floor", 7, 4)) == []  # dedup
    (done,) = resolved(alerts.feed(occupancy("floor", 4, 9)))
    assert seconds(done) == 9.0 and done.details["peak"] == 7.0
    # Full again at 12 s: within the 20 s cooldown, raised when it ends (29 s), on the
    # camera's clock, although the occupancy did not change again.
    assert alerts.feed(occupancy("floor", 6, 12)) == []
    assert alerts.feed(CameraActivity(OTHER_CAM, t(28))) == []
    (again,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(40))))
    assert seconds(again) == 29.0
    assert again.condition_since.timestamp() == t(12)


def test_over_capacity_with_its_own_capacity_and_hold() -> None:
    alerts = engine({**CAPACITY, "capacity": 2, "for_s": 5})
    events = alerts.feed(occupancy("floor", 2, 0)) + alerts.feed(occupancy("floor", 3, 4))
    assert events == []
    (alert,) = raised(alerts.feed(occupancy("floor", 2, 6)))
    assert seconds(alert) == 5.0 and alert.threshold == 2.0


def test_loitering_is_per_zone_and_follows_the_oldest_open_stay() -> None:
    alerts = engine(LOITERING)
    events = []
    events += alerts.feed(StayStarted(OTHER_CAM, "floor", 1, t(0), t(1)))
    events += alerts.feed(StayStarted(OTHER_CAM, "floor", 2, t(40), t(41)))
    events += alerts.feed(CameraActivity(OTHER_CAM, t(59)))
    assert events == []
    (alert,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(65))))
    assert seconds(alert) == 60.0  # track 1, in since 0 s
    assert alert.value == 60.0 and alert.threshold == 60.0
    assert alert.dedup_key == "loiter/zone:floor"
    # Track 1 leaves at 70 s: track 2 has been in for 30 s only, the alert resolves.
    (done,) = resolved(alerts.feed(StayEnded(OTHER_CAM, "floor", 1, t(70))))
    assert seconds(done) == 70.0
    # ... and track 2 reaches 60 s at 100 s: a new alert (no cooldown).
    (again,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(120))))
    assert seconds(again) == 100.0
    assert again.condition_since.timestamp() == t(40)
    (end,) = resolved(alerts.feed(StayEnded(OTHER_CAM, "floor", 2, t(130))))
    assert end.raised_event_id == again.event_id


def test_staff_only_presence_raises_on_anyone_and_clears() -> None:
    alerts = engine(STAFF)
    (alert,) = raised(alerts.feed(occupancy("back", 1, 0)))
    assert seconds(alert) == 0.0 and "Back room" in alert.message
    assert alerts.feed(occupancy("back", 2, 1)) == []
    (done,) = resolved(alerts.feed(occupancy("back", 0, 5)))
    assert seconds(done) == 5.0
    # Back at 8 s, within the 10 s cooldown: raised at 15 s.
    assert alerts.feed(occupancy("back", 1, 8)) == []
    (again,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(16))))
    assert seconds(again) == 15.0


def test_staff_only_presence_outside_allowed_hours_only() -> None:
    # T0 is 10:00 UTC = 15:30 in Kolkata; staff hours 09:00-16:00 local.
    rule = {
        **STAFF,
        "allowed_hours": {"start": "09:00", "end": "16:00", "timezone": "Asia/Kolkata"},
    }
    alerts = engine(rule)
    assert alerts.feed(occupancy("back", 1, 0)) == []  # on shift
    assert alerts.feed(CameraActivity(OTHER_CAM, t(29 * 60))) == []  # 15:59
    # Nobody left; the window closed at 16:00 local = 10:30 UTC.
    (alert,) = raised(alerts.feed(CameraActivity(OTHER_CAM, t(31 * 60))))
    assert alert.occurred_at == datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    assert "outside staff hours" in alert.message
    (done,) = resolved(alerts.feed(occupancy("back", 0, 40 * 60)))
    assert kinds([alert, done]) == ["alert.raised", "alert.resolved"]


def test_loitering_dedups_several_loiterers_and_waits_for_its_cooldown() -> None:
    alerts = engine({**LOITERING, "cooldown_s": 100})
    events = alerts.feed(StayStarted(OTHER_CAM, "floor", 1, t(0), t(0)))
    events += alerts.feed(StayStarted(OTHER_CAM, "floor", 2, t(5), t(5)))
    events += alerts.feed(CameraActivity(OTHER_CAM, t(90)))  # both past 60 s: one alert
    assert [(e.kind, seconds(e)) for e in events] == [("alert.raised", 60.0)]
    assert raised(events)[0].details["people_inside"] == 2
    events = alerts.feed(StayEnded(OTHER_CAM, "floor", 1, t(95)))  # track 2 still loiters
    events += alerts.feed(StayEnded(OTHER_CAM, "floor", 2, t(100)))
    assert [(e.kind, seconds(e)) for e in events] == [("alert.resolved", 100.0)]
    # Someone loiters from 110 s (60 s at 170 s): the cooldown runs until 200 s.
    alerts.feed(StayStarted(OTHER_CAM, "floor", 3, t(110), t(110)))
    assert alerts.feed(CameraActivity(OTHER_CAM, t(199))) == []
    assert [seconds(e) for e in alerts.feed(CameraActivity(OTHER_CAM, t(201)))] == [200.0]
