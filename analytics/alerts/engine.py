"""The alert rule engine: a store's rules (trinetra.config.alerts) over its live
analytics, camera status and identity decisions, as `alert.raised` / `alert.resolved`
events (trinetra/events/schema.py).

    engine = AlertEngine(config)              # StoreAnalyticsConfig with alert_rules
    events = engine.feed(input_for(event))    # inputs.py; [] for most inputs
    events += engine.tick(time.time())        # watchdog: camera offline, VIP expiry
    state = engine.snapshot()                 # JSON-able; AlertEngine(config).restore(state)

Pure and deterministic: no clock is read and nothing is random. Each (rule, subject) pair
is an `AlertTracker` (tracker.py): at most one open alert per pair (dedup), raised once
the condition has held for the rule's duration, resolved as soon as it no longer holds
(auto-resolve), and not raised again until `cooldown_s` after a resolve.

Time. Conditions are judged against the clock of the stream they come from, so a
lagging stream can never make another one's condition look older than it is:

- zone rules (queue length and wait, capacity, loitering, staff-only) and footfall: the
  clock of the zone's or line's camera, which is the newest frame time of that camera's
  analytics events (each camera's events are in order on its own subject);
- camera offline: the newest `camera.status` time;
- VIP arrival: the newest `identity.*` time.

Between two inputs a measured value is taken to hold (occupancy and status are sent on
change, so this is exact for them), so an alert's `occurred_at` is the exact time its
condition was met (e.g. queue long since 10:00:00, for_s 30 -> 10:00:30) even when the
input that revealed it arrived later: replaying a stream gives the same events with the
same ids. A camera that stops sending anything stops its own clock, so nothing sees its
status go stale: `tick(now)` lets the process's wall clock stand in for the status and
identity clocks (the runner calls it only while those consumers are caught up, so it
never overtakes a status still in the backlog). A tick only *finds* due alerts earlier;
the times it raises or resolves at are still those of the events (a status time + the
offline delay, a last sighting + resolve_after_s), so ticks change no event.

Inputs older than their clock (a message redelivered late) are applied at the clock's
time: time never runs backwards inside the engine.

Configuration: `apply_config` swaps rules between two inputs. A removed or disabled
rule's open alerts resolve (reasons rule_removed / rule_disabled) at the current clock;
a changed rule keeps its trackers and is judged again at once with its new thresholds;
a new rule is judged at once on the current state (a queue already long when the rule
is added counts from then).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from analytics.alerts.describe import raised_message, resolved_message
from analytics.alerts.footfall import HourlyFootfall, Judgement
from analytics.alerts.hours import DailyWindow, utc
from analytics.alerts.inputs import (
    CameraActivity,
    CameraStatus,
    IdentityResolved,
    IdentityWithdrawn,
    Input,
    LineCrossing,
    QueueState,
    StayEnded,
    StayStarted,
    ZoneOccupancy,
)
from analytics.alerts.tracker import AlertTracker, OpenAlert, Raise, Resolve, ResolveReason
from analytics.engine.events import JsonValue
from trinetra.config.alerts import (
    AlertRule,
    CameraOfflineRule,
    FootfallAnomalyRule,
    LoiteringRule,
    QueueLengthRule,
    QueueWaitRule,
    StaffOnlyPresenceRule,
    VipArrivalRule,
    ZoneOverCapacityRule,
)
from trinetra.config.analytics import StoreAnalyticsConfig, ZoneDefinition
from trinetra.events.schema import (
    AlertDetail,
    AlertRaisedEvent,
    AlertResolvedEvent,
    AlertSubject,
    RuleAlertEvent,
)

__all__ = ["SNAPSHOT_FORMAT", "AlertEngine"]

SNAPSHOT_FORMAT: Final = 1
_NEVER: Final = float("-inf")

_ZONE_RULES: Final = (
    QueueLengthRule,
    QueueWaitRule,
    ZoneOverCapacityRule,
    LoiteringRule,
    StaffOnlyPresenceRule,
)
Details = dict[str, AlertDetail]


@dataclass
class _Pair:
    """One (rule, subject): what it is about, and its tracker."""

    subject: AlertSubject
    place: str  # the subject's name in messages
    tracker: AlertTracker
    details: Details = field(default_factory=dict)  # the latest figures, for its events


@dataclass
class _Status:
    state: str
    off_since: float | None  # first non-live status since the last live one
    down_since: float | None  # the same, ignoring deliberate stops (state 'stopped')


@dataclass
class _Sighting:
    last_seen: float
    camera_id: str
    track_id: int


def _customer_key(customer_id: str) -> str:
    # A dedup key outlives erasure in stored alerts, so it never holds the customer id.
    return "customer:" + hashlib.sha256(customer_id.encode()).hexdigest()[:16]


class AlertEngine:
    """A store's alert rules over its analytics (module docs)."""

    def __init__(self, config: StoreAnalyticsConfig) -> None:
        self._config = config
        self._store_id = config.store_id
        # Latest measured state, independent of the rules (a rule added later is judged
        # on it at once).
        self._clock: dict[str, float] = {}  # camera -> newest analytics frame time
        self._status_clock = _NEVER
        self._identity_clock = _NEVER
        self._occupancy: dict[str, int] = {}
        self._queues: dict[str, tuple[int, float | None]] = {}
        self._stays: dict[str, dict[int, float]] = {}
        self._status: dict[str, _Status] = {}
        # Per rule.
        self._pairs: dict[str, dict[str, _Pair]] = {}
        self._sightings: dict[str, dict[str, _Sighting]] = {}
        self._footfall: dict[str, HourlyFootfall] = {}
        self._windows: dict[str, DailyWindow] = {}
        self._index(config)

    # --- configuration ----------------------------------------------------------------

    @property
    def config(self) -> StoreAnalyticsConfig:
        return self._config

    def _index(self, config: StoreAnalyticsConfig) -> None:
        self._config = config
        self._rules: dict[str, AlertRule] = {r.id: r for r in config.alert_rules if r.enabled}
        self._zones = {z.id: z for z in config.zones}
        self._lines = {ln.id: ln for ln in config.lines}
        self._by_zone: dict[str, list[AlertRule]] = defaultdict(list)
        self._by_camera: dict[str, list[AlertRule]] = defaultdict(list)
        self._by_line: dict[str, list[FootfallAnomalyRule]] = defaultdict(list)
        self._offline: list[CameraOfflineRule] = []
        self._vip: list[VipArrivalRule] = []
        for rule in self._rules.values():
            if isinstance(rule, _ZONE_RULES):
                zone = self._zones.get(rule.zone_id)
                if zone is not None:
                    self._by_zone[zone.id].append(rule)
                    self._by_camera[zone.camera_id].append(rule)
            elif isinstance(rule, FootfallAnomalyRule):
                line = self._lines.get(rule.line_id)
                if line is not None:
                    self._by_line[line.id].append(rule)
                    self._by_camera[line.camera_id].append(rule)
                previous = self._footfall.get(rule.id)
                self._footfall[rule.id] = (
                    HourlyFootfall(rule) if previous is None else previous.with_rule(rule)
                )
            elif isinstance(rule, CameraOfflineRule):
                self._offline.append(rule)
            elif isinstance(rule, VipArrivalRule):
                self._vip.append(rule)
            if isinstance(rule, StaffOnlyPresenceRule) and rule.allowed_hours is not None:
                self._windows[rule.id] = DailyWindow(rule.allowed_hours)
            for pair in self._pairs.get(rule.id, {}).values():
                pair.tracker.cooldown_s = rule.cooldown_s
        for gone in [rid for rid in self._footfall if rid not in self._rules]:
            del self._footfall[gone]
        for gone in [rid for rid in self._windows if rid not in self._rules]:
            del self._windows[gone]

    def apply_config(self, config: StoreAnalyticsConfig) -> list[RuleAlertEvent]:
        """Swap the configuration (module docs); returns the alerts it resolved or raised."""
        if config.store_id != self._store_id:
            raise ValueError(f"configuration of store {config.store_id}, not {self._store_id}")
        before = self._rules
        all_new = {r.id: r for r in config.alert_rules}
        out: list[RuleAlertEvent] = []
        # Resolves caused by this change carry its version (the old zones still word them).
        self._config = config
        for rule_id, rule in before.items():
            replacement = all_new.get(rule_id)
            if replacement is None or not replacement.enabled:
                reason: ResolveReason = "rule_removed" if replacement is None else "rule_disabled"
                self._drop_rule(rule, reason, out)
            elif replacement.kind != rule.kind:
                self._drop_rule(rule, "rule_removed", out)
        self._index(config)
        for rule in self._rules.values():
            if before.get(rule.id) != rule:
                self._judge_rule(rule, out)
        return out

    def _drop_rule(self, rule: AlertRule, reason: ResolveReason, out: list[RuleAlertEvent]) -> None:
        for key, pair in self._pairs.pop(rule.id, {}).items():
            closed = pair.tracker.resolve(self._rule_clock(rule, pair.subject), reason)
            if closed is not None:
                out.append(self._resolved(rule, key, pair, closed))
        self._sightings.pop(rule.id, None)
        self._footfall.pop(rule.id, None)

    def _rule_clock(self, rule: AlertRule, subject: AlertSubject) -> float:
        if isinstance(rule, CameraOfflineRule):
            return self._status_clock
        if isinstance(rule, VipArrivalRule):
            return self._identity_clock
        return self._clock.get(subject.camera_id, _NEVER)

    def _judge_rule(self, rule: AlertRule, out: list[RuleAlertEvent]) -> None:
        """Judge a new or changed rule on the current state, at its clock's time."""
        if isinstance(rule, _ZONE_RULES):
            zone = self._zones.get(rule.zone_id)
            now = None if zone is None else self._clock.get(zone.camera_id)
            if now is not None:
                self._judge_zone(rule, now, out)
        elif isinstance(rule, CameraOfflineRule):
            for camera in self._status:
                self._judge_camera(rule, camera, self._status_clock, out)

    # --- inputs -----------------------------------------------------------------------

    def feed(self, item: Input) -> list[RuleAlertEvent]:
        """One input (inputs.py); returns the alert events it caused, in order."""
        out: list[RuleAlertEvent] = []
        match item:
            case CameraStatus():
                now = self._advance_status(item.at, out)
                self._on_status(item, now, out)
            case IdentityResolved() | IdentityWithdrawn():
                now = self._advance_identity(item.at, out)
                if isinstance(item, IdentityResolved):
                    self._on_identified(item, now, out)
                else:
                    self._on_withdrawn(item, now, out)
            case _:
                now = self._advance_camera(item.camera_id, item.at, out)
                self._on_analytics(item, now, out)
        return out

    def tick(self, now: float) -> list[RuleAlertEvent]:
        """The watchdog (module docs): find camera-offline and VIP-expiry alerts due by
        wall-clock `now` without moving any clock."""
        out: list[RuleAlertEvent] = []
        self._check_offline(now, out)
        self._check_vip(now, out)
        return out

    def _on_analytics(self, item: Input, now: float, out: list[RuleAlertEvent]) -> None:
        match item:
            case ZoneOccupancy():
                self._occupancy[item.zone_id] = item.count
                self._judge_zone_rules(item.zone_id, now, out)
            case QueueState():
                self._queues[item.zone_id] = (item.length, item.estimated_wait_s)
                self._judge_zone_rules(item.zone_id, now, out)
            case StayStarted():
                self._stays.setdefault(item.zone_id, {})[item.track_id] = item.entered_at
                self._judge_zone_rules(item.zone_id, now, out)
            case StayEnded():
                stays = self._stays.get(item.zone_id)
                if stays is not None:
                    stays.pop(item.track_id, None)
                    if not stays:
                        del self._stays[item.zone_id]
                self._judge_zone_rules(item.zone_id, now, out)
            case LineCrossing():
                for rule in self._by_line.get(item.line_id, ()):
                    self._count_crossing(rule, item, now, out)
            case CameraActivity():
                pass

    # --- clocks -----------------------------------------------------------------------

    def _advance_camera(self, camera_id: str, t: float, out: list[RuleAlertEvent]) -> float:
        previous = self._clock.get(camera_id)
        now = t if previous is None else max(previous, t)
        self._clock[camera_id] = now
        rules = self._by_camera.get(camera_id, ())
        if previous is not None and now > previous:
            for rule in rules:
                window = self._windows.get(rule.id)
                if window is not None and isinstance(rule, StaffOnlyPresenceRule):
                    for flip in window.flips(previous, now):
                        self._judge_zone(rule, flip, out)
                if isinstance(rule, FootfallAnomalyRule):
                    self._roll_hours(rule, now, out)
                else:
                    self._check_pairs(rule, now, out)
        for rule in rules:
            if isinstance(rule, FootfallAnomalyRule):
                footfall = self._footfall[rule.id]
                if footfall.hour is None:
                    footfall.open_hour(now)
                footfall.observed = True
        return now

    def _advance_status(self, t: float, out: list[RuleAlertEvent]) -> float:
        if t > self._status_clock:
            self._status_clock = t
            self._check_offline(t, out)
        return self._status_clock

    def _advance_identity(self, t: float, out: list[RuleAlertEvent]) -> float:
        if t > self._identity_clock:
            self._identity_clock = t
            self._check_vip(t, out)
        return self._identity_clock

    def _check_pairs(self, rule: AlertRule, now: float, out: list[RuleAlertEvent]) -> None:
        for key, pair in self._pairs.get(rule.id, {}).items():
            due = pair.tracker.check(now)
            if due is not None:
                out.append(self._raised(rule, key, pair, due))

    def _check_offline(self, now: float, out: list[RuleAlertEvent]) -> None:
        for rule in self._offline:
            self._check_pairs(rule, now, out)

    def _check_vip(self, now: float, out: list[RuleAlertEvent]) -> None:
        # Expiries first: a customer gone before their cooldown ended is not raised.
        self._expire_sightings(now, out)
        for rule in self._vip:
            self._check_pairs(rule, now, out)

    # --- trackers ---------------------------------------------------------------------

    def _pair(self, rule: AlertRule, key: str, subject: AlertSubject, place: str) -> _Pair:
        pairs = self._pairs.setdefault(rule.id, {})
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = _Pair(subject, place, AlertTracker(rule.cooldown_s))
        return pair

    def _set(
        self,
        rule: AlertRule,
        key: str,
        pair: _Pair,
        since: float | None,
        due: float | None,
        value: float | None,
        t: float,
        out: list[RuleAlertEvent],
        *,
        details: Details | None = None,
    ) -> None:
        if details is not None:
            pair.details = details
        for change in pair.tracker.set(since, due, value, t):
            if isinstance(change, Raise):
                out.append(self._raised(rule, key, pair, change))
            else:
                out.append(self._resolved(rule, key, pair, change))
        tracker = pair.tracker
        if tracker.open is None and tracker.since is None and tracker.cooldown_until <= t:
            # Idle and out of cooldown: nothing to remember (bounds memory for customers).
            self._pairs[rule.id].pop(key, None)

    # --- zone rules -------------------------------------------------------------------

    def _judge_zone_rules(self, zone_id: str, now: float, out: list[RuleAlertEvent]) -> None:
        for rule in self._by_zone.get(zone_id, ()):
            self._judge_zone(rule, now, out)

    def _judge_zone(self, rule: AlertRule, now: float, out: list[RuleAlertEvent]) -> None:
        assert isinstance(rule, _ZONE_RULES)
        zone = self._zones[rule.zone_id]
        key = f"zone:{zone.id}"
        subject = AlertSubject(camera_id=zone.camera_id, zone_id=zone.id)
        pair = self._pair(rule, key, subject, zone.name)
        tracker = pair.tracker
        details: Details = {"zone_name": zone.name}
        if isinstance(rule, LoiteringRule):
            stays = self._stays.get(zone.id, {})
            oldest = min(stays.values()) if stays else None
            due = None if oldest is None else oldest + rule.min_dwell_s
            value = None if oldest is None else round(max(now - oldest, 0.0), 3)
            details["people_inside"] = len(stays)
            self._set(rule, key, pair, oldest, due, value, now, out, details=details)
            return
        measured: float | None
        if isinstance(rule, QueueLengthRule):
            length = self._queues.get(zone.id, (0, None))[0]
            measured, active = float(length), length >= rule.min_length
        elif isinstance(rule, QueueWaitRule):
            wait = self._queues.get(zone.id, (0, None))[1]
            measured, active = wait, wait is not None and wait >= rule.min_wait_s
        elif isinstance(rule, ZoneOverCapacityRule):
            count = self._occupancy.get(zone.id, 0)
            capacity = rule.capacity if rule.capacity is not None else zone.capacity
            measured, active = float(count), capacity is not None and count >= capacity
        else:
            assert isinstance(rule, StaffOnlyPresenceRule)
            count = self._occupancy.get(zone.id, 0)
            window = self._windows.get(rule.id)
            on_shift = window is not None and window.contains(now)
            measured, active = float(count), count >= rule.min_people and not on_shift
        since = tracker.since_if(active, now)
        due = None if since is None else since + rule.for_s
        self._set(rule, key, pair, since, due, measured, now, out, details=details)

    # --- footfall ---------------------------------------------------------------------

    def _line_pair(self, rule: FootfallAnomalyRule) -> tuple[str, _Pair]:
        line = self._lines[rule.line_id]
        key = f"line:{line.id}"
        subject = AlertSubject(camera_id=line.camera_id, line_id=line.id)
        return key, self._pair(rule, key, subject, line.name)

    def _roll_hours(self, rule: FootfallAnomalyRule, now: float, out: list[RuleAlertEvent]) -> None:
        """Close every hour that ended by `now`, judging each one that was observed."""
        footfall = self._footfall[rule.id]
        while footfall.hour is not None and now >= footfall.hour.end:
            hour, count, observed = footfall.close_hour()
            if observed:
                judged = footfall.judge(hour, count)
                key, pair = self._line_pair(rule)
                details = _footfall_details(rule, hour.start, judged)
                if judged is not None and judged.anomalous:
                    value = float(count)
                    self._set(
                        rule,
                        key,
                        pair,
                        hour.start,
                        hour.end,
                        value,
                        hour.end,
                        out,
                        details=details,
                    )
                else:
                    self._set(
                        rule, key, pair, None, None, float(count), hour.end, out, details=details
                    )
            # The next hour, or the one holding `now` when the camera was silent between.
            footfall.open_hour(hour.end if now < hour.end + 3600.0 else now)

    def _count_crossing(
        self, rule: FootfallAnomalyRule, item: LineCrossing, now: float, out: list[RuleAlertEvent]
    ) -> None:
        footfall = self._footfall[rule.id]
        if not footfall.counts(item.direction) or footfall.hour is None:
            return
        footfall.count += 1
        judged = footfall.judge_open()
        if judged is None:
            return
        key, pair = self._line_pair(rule)
        if pair.tracker.open is not None:
            return
        details = _footfall_details(rule, footfall.hour.start, judged)
        self._set(
            rule,
            key,
            pair,
            footfall.hour.start,
            now,
            float(footfall.count),
            now,
            out,
            details=details,
        )

    # --- camera offline ---------------------------------------------------------------

    def _on_status(self, item: CameraStatus, now: float, out: list[RuleAlertEvent]) -> None:
        status = self._status.get(item.camera_id)
        if item.state == "live":
            off = down = None
        else:
            off = now if status is None or status.off_since is None else status.off_since
            if item.state == "stopped":
                down = None
            else:
                down = now if status is None or status.down_since is None else status.down_since
        self._status[item.camera_id] = _Status(item.state, off, down)
        for rule in self._offline:
            self._judge_camera(rule, item.camera_id, now, out)

    def _judge_camera(
        self, rule: CameraOfflineRule, camera_id: str, now: float, out: list[RuleAlertEvent]
    ) -> None:
        if rule.camera_ids and camera_id not in rule.camera_ids:
            return
        status = self._status[camera_id]
        since = status.off_since if rule.include_stopped else status.down_since
        key = f"camera:{camera_id}"
        pair = self._pair(rule, key, AlertSubject(camera_id=camera_id), camera_id)
        due = None if since is None else since + rule.offline_for_s
        value = None if since is None else round(max(now - since, 0.0), 3)
        details: Details = {"state": status.state}
        self._set(rule, key, pair, since, due, value, now, out, details=details)

    # --- VIP arrival ------------------------------------------------------------------

    def _on_identified(self, item: IdentityResolved, now: float, out: list[RuleAlertEvent]) -> None:
        if not item.vip:
            return
        for rule in self._vip:
            if rule.camera_ids and item.camera_id not in rule.camera_ids:
                continue
            sightings = self._sightings.setdefault(rule.id, {})
            sightings[item.customer_id] = _Sighting(now, item.camera_id, item.track_id)
            key = _customer_key(item.customer_id)
            subject = AlertSubject(camera_id=item.camera_id, customer_id=item.customer_id)
            pair = self._pair(rule, key, subject, item.camera_id)
            since = pair.tracker.since_if(True, now)
            details: Details = {"track_id": item.track_id}
            self._set(rule, key, pair, since, since, None, now, out, details=details)

    def _on_withdrawn(self, item: IdentityWithdrawn, now: float, out: list[RuleAlertEvent]) -> None:
        for rule in self._vip:
            sightings = self._sightings.get(rule.id, {})
            for customer_id, seen in list(sightings.items()):
                same_track = (seen.camera_id, seen.track_id) == (item.camera_id, item.track_id)
                if customer_id == item.customer_id or (item.customer_id is None and same_track):
                    del sightings[customer_id]
                    key = _customer_key(customer_id)
                    pair = self._pairs.get(rule.id, {}).get(key)
                    if pair is None:
                        continue
                    closed = pair.tracker.resolve(now, "withdrawn")
                    pair.tracker.since = pair.tracker.due = None
                    if closed is not None:
                        out.append(self._resolved(rule, key, pair, closed))

    def _expire_sightings(self, now: float, out: list[RuleAlertEvent]) -> None:
        for rule in self._vip:
            sightings = self._sightings.get(rule.id, {})
            for customer_id, seen in list(sightings.items()):
                gone_at = seen.last_seen + rule.resolve_after_s
                if gone_at > now:
                    continue
                del sightings[customer_id]
                key = _customer_key(customer_id)
                pair = self._pairs.get(rule.id, {}).get(key)
                if pair is not None:
                    self._set(rule, key, pair, None, None, None, gone_at, out)

    # --- events -----------------------------------------------------------------------

    def _common(self, rule: AlertRule, key: str, pair: _Pair) -> dict[str, object]:
        threshold, unit = _threshold(rule, self._zones)
        return {
            "store_id": self._store_id,
            "camera_id": pair.subject.camera_id,
            "rule_id": rule.id,
            "rule_kind": rule.kind,
            "rule_name": rule.name,
            "severity": rule.severity.value,
            "dedup_key": f"{rule.id}/{key}",
            "subject": pair.subject,
            "threshold": threshold,
            "unit": unit,
            "config_version": self._config.version,
            "details": dict(pair.details),
        }

    def _raised(self, rule: AlertRule, key: str, pair: _Pair, change: Raise) -> AlertRaisedEvent:
        common = self._common(rule, key, pair)
        value = change.value
        if isinstance(rule, CameraOfflineRule | LoiteringRule):
            value = round(change.at - change.since, 3)  # how long, at the moment it raised
        threshold = common["threshold"]
        assert threshold is None or isinstance(threshold, float)
        event = AlertRaisedEvent.model_validate(
            {
                **common,
                "occurred_at": utc(change.at),
                "value": value,
                "message": raised_message(rule, pair.place, value, threshold),
                "condition_since": utc(change.since),
            }
        )
        pair.tracker.opened(OpenAlert(event.event_id, change.at, change.since))
        return event

    def _resolved(
        self, rule: AlertRule, key: str, pair: _Pair, change: Resolve
    ) -> AlertResolvedEvent:
        common = self._common(rule, key, pair)
        value = change.value
        if isinstance(rule, CameraOfflineRule):
            value = round(change.at - change.closed.condition_since, 3)
        if change.peak is not None:
            common["details"] = {**common["details"], "peak": change.peak}  # type: ignore[dict-item]
        threshold = common["threshold"]
        assert threshold is None or isinstance(threshold, float)
        return AlertResolvedEvent.model_validate(
            {
                **common,
                "occurred_at": utc(change.at),
                "value": value,
                "message": resolved_message(rule, pair.place, value, threshold, change.reason),
                "raised_event_id": change.closed.event_id,
                "raised_at": utc(change.closed.raised_at),
                "reason": change.reason,
                "duration_s": round(change.at - change.closed.raised_at, 6),
            }
        )

    @property
    def open_alerts(self) -> list[tuple[str, AlertSubject, OpenAlert]]:
        """(rule id, subject, open alert) of every open alert."""
        return [
            (rule_id, pair.subject, pair.tracker.open)
            for rule_id, pairs in self._pairs.items()
            for pair in pairs.values()
            if pair.tracker.open is not None
        ]

    # --- snapshot ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, JsonValue]:
        """The engine's state, JSON-able (module docs); the configuration is not in it."""
        return {
            "format": SNAPSHOT_FORMAT,
            "store_id": self._store_id,
            "clock": dict(self._clock),
            "status_clock": _finite(self._status_clock),
            "identity_clock": _finite(self._identity_clock),
            "occupancy": dict(self._occupancy),
            "queues": {z: [n, w] for z, (n, w) in self._queues.items()},
            "stays": {z: {str(t): at for t, at in s.items()} for z, s in self._stays.items()},
            "status": {
                c: {"state": s.state, "off_since": s.off_since, "down_since": s.down_since}
                for c, s in self._status.items()
            },
            "pairs": {
                rule_id: {key: _pair_json(pair) for key, pair in pairs.items()}
                for rule_id, pairs in self._pairs.items()
            },
            "sightings": {
                rule_id: {
                    customer: {
                        "last_seen": s.last_seen,
                        "camera_id": s.camera_id,
                        "track_id": s.track_id,
                    }
                    for customer, s in sightings.items()
                }
                for rule_id, sightings in self._sightings.items()
            },
            "footfall": {rule_id: f.to_json() for rule_id, f in self._footfall.items()},
        }

    def restore(self, state: dict[str, JsonValue]) -> list[RuleAlertEvent]:
        """Resume from `snapshot()`. Open alerts of rules this configuration no longer has
        (or has disabled) resolve, as `apply_config` would have; those are returned."""
        if state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported alert engine snapshot format {state.get('format')!r}")
        if state.get("store_id") != self._store_id:
            raise ValueError(f"snapshot of store {state.get('store_id')!r}, not {self._store_id}")
        self._clock = {str(c): _float(t) for c, t in _dict(state.get("clock")).items()}
        self._status_clock = _clock(state.get("status_clock"))
        self._identity_clock = _clock(state.get("identity_clock"))
        self._occupancy = {str(z): int(_float(n)) for z, n in _dict(state.get("occupancy")).items()}
        self._queues = {}
        for zone, raw in _dict(state.get("queues")).items():
            length, wait = _list(raw)
            self._queues[zone] = (int(_float(length)), None if wait is None else _float(wait))
        self._stays = {
            zone: {int(track): _float(at) for track, at in _dict(stays).items()}
            for zone, stays in _dict(state.get("stays")).items()
        }
        self._status = {}
        for camera, raw in _dict(state.get("status")).items():
            item = _dict(raw)
            self._status[camera] = _Status(
                str(item.get("state")),
                _float_or_none(item.get("off_since")),
                _float_or_none(item.get("down_since")),
            )
        self._sightings = {
            rule_id: {
                customer: _Sighting(
                    _float(_dict(s).get("last_seen")),
                    str(_dict(s).get("camera_id")),
                    int(_float(_dict(s).get("track_id"))),
                )
                for customer, s in _dict(sightings).items()
            }
            for rule_id, sightings in _dict(state.get("sightings")).items()
            if rule_id in self._rules
        }
        self._footfall = {}
        for rule_id, raw in _dict(state.get("footfall")).items():
            rule = self._rules.get(rule_id)
            if isinstance(rule, FootfallAnomalyRule):
                self._footfall[rule_id] = HourlyFootfall.from_json(rule, _dict(raw)).with_rule(rule)
        self._pairs = {}
        out: list[RuleAlertEvent] = []
        all_rules = {r.id: r for r in self._config.alert_rules}
        for rule_id, pairs in _dict(state.get("pairs")).items():
            rule = self._rules.get(rule_id)
            configured = all_rules.get(rule_id)
            for key, raw in _dict(pairs).items():
                cooldown_s = configured.cooldown_s if configured is not None else 0.0
                pair = _pair_from_json(_dict(raw), cooldown_s)
                if rule is not None:
                    self._pairs.setdefault(rule_id, {})[key] = pair
                elif configured is not None:
                    # Disabled in this configuration: close its alerts, as apply_config
                    # would. A rule missing altogether cannot word its resolve: restore
                    # under the snapshot's own configuration, then apply_config the new
                    # one (the runner does), and removals resolve properly.
                    closed = pair.tracker.resolve(
                        self._rule_clock(configured, pair.subject), "rule_disabled"
                    )
                    if closed is not None:
                        out.append(self._resolved(configured, key, pair, closed))
        for rule in self._rules.values():
            if isinstance(rule, FootfallAnomalyRule) and rule.id not in self._footfall:
                self._footfall[rule.id] = HourlyFootfall(rule)
        return out


def _threshold(
    rule: AlertRule, zones: Mapping[str, ZoneDefinition]
) -> tuple[float | None, str | None]:
    match rule:
        case QueueLengthRule():
            return float(rule.min_length), "people"
        case QueueWaitRule():
            return rule.min_wait_s, "seconds"
        case ZoneOverCapacityRule():
            zone = zones.get(rule.zone_id)
            capacity = rule.capacity
            if capacity is None and zone is not None:
                capacity = zone.capacity
            return (None if capacity is None else float(capacity)), "people"
        case LoiteringRule():
            return rule.min_dwell_s, "seconds"
        case StaffOnlyPresenceRule():
            return float(rule.min_people), "people"
        case CameraOfflineRule():
            return rule.offline_for_s, "seconds"
        case FootfallAnomalyRule():
            return None, "crossings"
    return None, None


def _footfall_details(
    rule: FootfallAnomalyRule, hour_start: float, judged: Judgement | None
) -> Details:
    details: Details = {
        "hour_start": utc(hour_start).isoformat(),
        "direction": rule.direction,
        "timezone": rule.timezone,
    }
    if judged is not None:
        details.update(
            mean=round(judged.mean, 3),
            sigma=round(judged.sigma, 3),
            z=round(judged.z, 3),
            bound=round(judged.bound, 3),
            samples=judged.samples,
        )
    return details


def _pair_json(pair: _Pair) -> dict[str, JsonValue]:
    return {
        "subject": pair.subject.model_dump(mode="json"),
        "place": pair.place,
        "tracker": pair.tracker.to_json(),
        "details": dict(pair.details),
    }


def _pair_from_json(data: dict[str, JsonValue], cooldown_s: float) -> _Pair:
    subject = AlertSubject.model_validate(data.get("subject"))
    tracker = AlertTracker.from_json(_dict(data.get("tracker")), cooldown_s)
    details: Details = {
        str(k): v
        for k, v in _dict(data.get("details")).items()
        if v is None or isinstance(v, str | bool | int | float)
    }
    return _Pair(subject, str(data.get("place")), tracker, details)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _dict(value: JsonValue) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        return {}
    return value


def _list(value: JsonValue) -> list[JsonValue]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {value!r}")
    return value


def _float(value: JsonValue) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _float_or_none(value: JsonValue) -> float | None:
    return None if value is None else _float(value)


def _clock(value: JsonValue) -> float:
    return _NEVER if value is None else _float(value)
