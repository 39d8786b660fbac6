"""The engine as a whole: snapshot/restore mid-stream gives the same events, and live
configuration changes resolve, re-judge or start rules."""

from __future__ import annotations

import json
from typing import Any

from analytics.alerts.engine import AlertEngine
from analytics.alerts.inputs import (
    CameraActivity,
    CameraStatus,
    IdentityResolved,
    Input,
    LineCrossing,
    QueueState,
    StayStarted,
    ZoneOccupancy,
)
from tests.analytics.alerts.rules.helpers import (
    CAM,
    OTHER_CAM,
    config,
    kinds,
    raised,
    resolved,
    seconds,
    t,
)
from trinetra.events.schema import RuleAlertEvent
from trinetra.vocabulary import EventKind

RULES: list[dict[str, Any]] = [
    {"kind": "queue_length", "id": "q", "name": "Queue", "zone_id": "queue", "min_length": 2,
     "for_s": 5, "cooldown_s": 10},
    {"kind": "zone_over_capacity", "id": "cap", "name": "Full", "zone_id": "floor"},
    {"kind": "loitering", "id": "loiter", "name": "Loiter", "zone_id": "floor",
     "min_dwell_s": 30},
    {"kind": "camera_offline", "id": "off", "name": "Offline", "offline_for_s": 20},
    {"kind": "vip_arrival", "id": "vip", "name": "VIP"},
    {"kind": "footfall_anomaly", "id": "ff", "name": "Footfall", "line_id": "door",
     "min_history_weeks": 1, "baseline_weeks": 1},
]  # fmt: skip


def stream() -> list[Input]:
    items: list[Input] = []
    for s in range(0, 120):
        items.append(QueueState(CAM, "queue", 3 if 10 <= s < 60 or s >= 80 else 0, None, t(s)))
        items.append(ZoneOccupancy(OTHER_CAM, "floor", 6 if 20 <= s < 40 else 1, t(s)))
        if s % 10 == 0:
            items.append(LineCrossing(OTHER_CAM, "door", "in", t(s), t(s)))
    items.insert(50, StayStarted(OTHER_CAM, "floor", 3, t(5), t(6)))
    items.insert(60, CameraStatus(CAM, "error", t(20)))
    items.insert(200, CameraStatus(CAM, "live", t(70)))
    items.insert(210, IdentityResolved(CAM, 4, "c-1", True, t(80)))
    items.append(CameraActivity(OTHER_CAM, t(4000)))
    return items


def run(alerts: AlertEngine, items: list[Input]) -> list[RuleAlertEvent]:
    return [event for item in items for event in alerts.feed(item)]


def test_a_restored_engine_continues_exactly_as_an_uninterrupted_one() -> None:
    items = stream()
    whole = run(AlertEngine(config(*RULES)), items)
    assert {e.rule_id for e in whole} == {"q", "cap", "loiter", "off", "vip"}
    for cut in (1, 57, 150, 215, len(items) - 1):
        first = AlertEngine(config(*RULES))
        head = run(first, items[:cut])
        state = json.loads(json.dumps(first.snapshot()))  # through JSON, as stored
        second = AlertEngine(config(*RULES))
        assert second.restore(state) == []
        tail = run(second, items[cut:])
        assert [e.event_id for e in head + tail] == [e.event_id for e in whole], cut


def test_removing_or_disabling_a_rule_resolves_its_open_alerts() -> None:
    alerts = AlertEngine(config(*RULES))
    full_and_long: list[Input] = [
        ZoneOccupancy(OTHER_CAM, "floor", 9, t(0)),
        QueueState(CAM, "queue", 5, None, t(0)),
        QueueState(CAM, "queue", 5, None, t(6)),
    ]
    run(alerts, full_and_long)
    assert {rule for rule, _, _ in alerts.open_alerts} == {"cap", "q"}
    remaining = [r for r in RULES if r["id"] not in ("cap", "q")]
    disabled_q = {**RULES[0], "enabled": False}
    events = alerts.apply_config(config(disabled_q, *remaining, version=2))
    assert sorted((e.rule_id, e.kind, getattr(e, "reason", "")) for e in events) == [
        ("cap", "alert.resolved", "rule_removed"),
        ("q", "alert.resolved", "rule_disabled"),
    ]
    assert alerts.open_alerts == []
    assert all(e.config_version == 2 for e in events)


def test_a_changed_rule_is_judged_again_and_a_new_rule_on_the_current_state() -> None:
    alerts = AlertEngine(config(RULES[0]))
    run(alerts, [QueueState(CAM, "queue", 3, None, t(s)) for s in range(0, 10)])
    assert [rule for rule, _, _ in alerts.open_alerts] == ["q"]
    # The queue of 3 is no longer long under min_length 5: resolved at once.
    stricter = {**RULES[0], "min_length": 5}
    (done,) = alerts.apply_config(config(stricter, version=2))
    assert done.kind is EventKind.ALERT_RESOLVED and seconds(done) == 9.0
    # A capacity rule added while the floor is already full raises at once.
    alerts = AlertEngine(config())
    run(alerts, [ZoneOccupancy(OTHER_CAM, "floor", 8, t(0)), CameraActivity(OTHER_CAM, t(3))])
    (alert,) = raised(alerts.apply_config(config(RULES[1], version=2)))
    assert seconds(alert) == 3.0 and alert.config_version == 2
    assert resolved(alerts.feed(ZoneOccupancy(OTHER_CAM, "floor", 1, t(4))))


def test_every_event_names_the_rule_and_is_an_alert_kind() -> None:
    events = run(AlertEngine(config(*RULES)), stream())
    assert set(kinds(events)) == {"alert.raised", "alert.resolved"}
    by_id = {e.event_id: e for e in raised(events)}
    for done in resolved(events):
        opened = by_id[done.raised_event_id]
        assert (done.rule_id, done.dedup_key) == (opened.rule_id, opened.dedup_key)
        assert done.occurred_at >= opened.occurred_at
