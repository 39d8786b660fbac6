"""camera_offline (with the watchdog tick) and vip_arrival: raise, dedup, auto-resolve,
cooldown."""

from __future__ import annotations

from analytics.alerts.inputs import (
    CameraActivity,
    CameraStatus,
    IdentityResolved,
    IdentityWithdrawn,
)
from tests.analytics.alerts.rules.helpers import (
    CAM,
    OTHER_CAM,
    engine,
    raised,
    resolved,
    seconds,
    t,
)

OFFLINE = {
    "kind": "camera_offline",
    "id": "offline",
    "name": "Camera offline",
    "offline_for_s": 60,
    "cooldown_s": 30,
    "severity": "critical",
}
VIP = {
    "kind": "vip_arrival",
    "id": "vip",
    "name": "VIP arrived",
    "resolve_after_s": 600,
    "cooldown_s": 3600,
    "severity": "info",
}


def test_camera_offline_is_found_by_the_tick_at_the_status_time_plus_the_delay() -> None:
    alerts = engine(OFFLINE)
    assert alerts.feed(CameraStatus(CAM, "live", t(0))) == []
    assert alerts.feed(CameraStatus(CAM, "error", t(10))) == []
    assert alerts.feed(CameraStatus(CAM, "connecting", t(12))) == []  # still offline
    # Nothing else arrives from the camera: only the watchdog can tell.
    assert alerts.tick(t(69)) == []
    (alert,) = raised(alerts.tick(t(95)))
    assert seconds(alert) == 70.0  # error at 10 s + 60 s, whenever the tick noticed
    assert alert.value == 60.0 and alert.subject.camera_id == CAM
    assert alerts.tick(t(200)) == []  # dedup
    (done,) = resolved(alerts.feed(CameraStatus(CAM, "live", t(300))))
    assert seconds(done) == 300.0 and done.value == 290.0


def test_camera_offline_ticks_change_no_event() -> None:
    statuses = [CameraStatus(CAM, "error", t(0)), CameraStatus(CAM, "live", t(100))]
    ticked, unticked = engine(OFFLINE), engine(OFFLINE)
    a = ticked.feed(statuses[0]) + ticked.tick(t(80)) + ticked.feed(statuses[1])
    b = unticked.feed(statuses[0]) + unticked.feed(statuses[1])
    # Without the tick the raise is found by the next status, at the same time and id.
    assert [(e.kind, e.event_id) for e in a] == [(e.kind, e.event_id) for e in b]
    assert [seconds(e) for e in a] == [60.0, 100.0]


def test_camera_offline_ignores_stopped_cameras_unless_asked_and_its_cooldown() -> None:
    alerts = engine({**OFFLINE, "camera_ids": [CAM]})
    assert alerts.feed(CameraStatus(CAM, "stopped", t(0))) == []
    assert alerts.tick(t(500)) == []
    assert alerts.feed(CameraStatus(OTHER_CAM, "error", t(0))) == []
    assert alerts.tick(t(500)) == []  # not a watched camera
    strict = engine({**OFFLINE, "include_stopped": True})
    strict.feed(CameraStatus(CAM, "stopped", t(0)))
    (alert,) = raised(strict.tick(t(61)))
    assert seconds(alert) == 60.0
    done = resolved(strict.feed(CameraStatus(CAM, "live", t(70))))
    assert [seconds(e) for e in done] == [70.0]
    strict.feed(CameraStatus(CAM, "error", t(71)))
    # Due at 131 s; the cooldown ended at 100 s already.
    assert [seconds(e) for e in raised(strict.tick(t(140)))] == [131.0]


def test_camera_offline_status_is_not_moved_by_analytics_time() -> None:
    alerts = engine(OFFLINE)
    alerts.feed(CameraStatus(CAM, "error", t(0)))
    # The analytics stream may be ahead of a lagging status stream: it does not count.
    assert alerts.feed(CameraActivity(OTHER_CAM, t(1000))) == []


def identified(
    customer: str, second: float, vip: bool = True, camera: str = CAM
) -> IdentityResolved:
    return IdentityResolved(camera, 7, customer, vip, t(second))


def test_vip_arrival_raises_once_per_customer_and_expires_after_the_last_sighting() -> None:
    alerts = engine(VIP)
    assert alerts.feed(identified("c-plain", 0, vip=False)) == []
    (alert,) = raised(alerts.feed(identified("c-vip", 5)))
    assert seconds(alert) == 5.0
    assert alert.subject.customer_id == "c-vip"
    # The customer id is in the subject only: not in the key, message or details.
    assert "c-vip" not in alert.dedup_key + alert.message + str(alert.details)
    assert alerts.feed(identified("c-vip", 300, camera=OTHER_CAM)) == []  # dedup
    (other,) = raised(alerts.feed(identified("c-vip-2", 400)))
    assert other.dedup_key != alert.dedup_key
    # Last seen at 300 s: resolved at 900 s, found by the identity clock or the tick.
    assert alerts.tick(t(899)) == []
    events = alerts.tick(t(999))
    assert [(e.kind, seconds(e)) for e in events] == [("alert.resolved", 900.0)]
    assert resolved(events)[0].raised_event_id == alert.event_id
    (later,) = resolved(alerts.feed(identified("c-other", 1001, vip=False)))
    assert (later.kind, seconds(later), later.raised_event_id) == (
        "alert.resolved",
        1000.0,
        other.event_id,
    )
    # Back within the hour-long cooldown (until 4500 s) and seen every 500 s: raised
    # when the cooldown ends, once.
    events = []
    for second in range(1200, 5000, 500):
        events += alerts.feed(identified("c-vip", second))
    assert [(e.kind, seconds(e)) for e in events] == [("alert.raised", 4500.0)]
    assert raised(events)[0].condition_since.timestamp() == t(1200)


def test_vip_arrival_after_the_cooldown_but_not_present_through_it() -> None:
    alerts = engine(VIP)
    alerts.feed(identified("c-vip", 0))
    assert [seconds(e) for e in alerts.tick(t(600))] == [600.0]  # resolved
    assert alerts.feed(identified("c-vip", 1000)) == []  # cooldown until 4200 s
    # Gone again at 1600 s, before the cooldown ended: nothing was raised for that visit.
    assert alerts.tick(t(4300)) == []
    assert [seconds(e) for e in raised(alerts.feed(identified("c-vip", 5000)))] == [5000.0]


def test_vip_arrival_resolves_when_the_identity_is_withdrawn() -> None:
    alerts = engine({**VIP, "camera_ids": [CAM]})
    assert alerts.feed(identified("c-vip", 0, camera=OTHER_CAM)) == []  # not a watched camera
    (alert,) = raised(alerts.feed(identified("c-vip", 1)))
    (done,) = resolved(alerts.feed(IdentityWithdrawn(CAM, 7, "c-vip", t(2))))
    assert done.reason == "withdrawn" and done.raised_event_id == alert.event_id
    # An erased customer is withdrawn without an id: found by the track.
    (again,) = raised(engine(VIP).feed(identified("c-x", 0)))
    fresh = engine(VIP)
    fresh.feed(identified("c-x", 0))
    (gone,) = resolved(fresh.feed(IdentityWithdrawn(CAM, 7, None, t(1))))
    assert gone.raised_event_id == again.event_id
