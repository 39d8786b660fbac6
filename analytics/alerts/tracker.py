"""One (rule, subject) pair's alert state: when its condition holds, whether an alert is
open, and its cooldown. Pure; times are POSIX seconds of event time.

The condition is described by two times the rule's evaluator computes:

- `since`: when the condition began to hold without a break (a queue reached its
  length, a camera stopped being live, the oldest open stay began), None when it does
  not hold at all;
- `due`: when it is (or will be) *met*, i.e. has held long enough: `since + for_s` for a
  held condition, the oldest stay's start + `min_dwell_s` for loitering.

The condition is met at time t when `due <= t`. Between two inputs the measured values
are taken to hold (occupancy and status are reported on change, so this is exact for
them), so `check(now)` raises at the exact time the condition was met, `due`, even when
the input that reveals it comes later; and a raise waits for the cooldown: it happens at
max(due, cooldown_until). `set` records a new condition at time t: an open alert whose
condition is no longer met at t resolves at t, and the cooldown starts.

Dedup: there is at most one open alert per tracker, and each tracker is one (rule,
subject) pair, so at most one per pair.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from analytics.engine.events import JsonValue

__all__ = ["AlertTracker", "OpenAlert", "Raise", "Resolve"]

ResolveReason = Literal["cleared", "rule_disabled", "rule_removed", "withdrawn"]


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """The alert.raised that is open: its id and times."""

    event_id: uuid.UUID
    raised_at: float
    condition_since: float


@dataclass(frozen=True, slots=True)
class Raise:
    """Raise an alert at `at` (the condition was met then)."""

    at: float
    since: float
    value: float | None


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve the open alert `closed` at `at`."""

    at: float
    closed: OpenAlert
    value: float | None
    peak: float | None
    reason: ResolveReason


Transition = Raise | Resolve


class AlertTracker:
    """State of one (rule, subject) pair (module docs)."""

    __slots__ = ("cooldown_s", "cooldown_until", "due", "open", "peak", "since", "value")

    def __init__(self, cooldown_s: float = 0.0) -> None:
        # The rule's cooldown; the engine updates it when the rule changes.
        self.cooldown_s = cooldown_s
        self.since: float | None = None
        self.due: float | None = None
        self.value: float | None = None
        self.peak: float | None = None
        self.open: OpenAlert | None = None
        self.cooldown_until = float("-inf")

    def since_if(self, active: bool, t: float) -> float | None:
        """The condition's start for a plain on/off condition observed at t: kept while it
        stays on, t when it comes on, None when it is off."""
        if not active:
            return None
        return self.since if self.since is not None else t

    def met(self, t: float) -> bool:
        return self.due is not None and self.due <= t

    def set(
        self,
        since: float | None,
        due: float | None,
        value: float | None,
        t: float,
        *,
        reason: ResolveReason = "cleared",
    ) -> list[Transition]:
        """The condition as of time t (module docs); returns what happened."""
        self.since = since
        self.due = None if since is None else due
        self.value = value
        out: list[Transition] = []
        if self.open is not None:
            if self.met(t):
                self._track_peak(value)
            else:
                out.append(self._resolve(t, reason))
        raised = self.check(t)
        if raised is not None:
            out.append(raised)
        return out

    def check(self, now: float) -> Raise | None:
        """A raise that is due by `now` (at the exact time it became due), if any."""
        if self.open is not None or self.due is None or self.since is None:
            return None
        at = max(self.due, self.cooldown_until)
        if now < at:
            return None
        return Raise(at, self.since, self.value)

    def opened(self, alert: OpenAlert) -> None:
        """The engine published the raise: the alert is open."""
        self.open = alert
        self.peak = self.value

    def resolve(self, t: float, reason: ResolveReason) -> Resolve | None:
        """Close the open alert at t whatever the condition (rule gone, identity withdrawn)."""
        if self.open is None:
            return None
        return self._resolve(t, reason)

    def _resolve(self, t: float, reason: ResolveReason) -> Resolve:
        assert self.open is not None
        closed = Resolve(max(t, self.open.raised_at), self.open, self.value, self.peak, reason)
        self.open = None
        self.peak = None
        self.cooldown_until = closed.at + self.cooldown_s
        return closed

    def _track_peak(self, value: float | None) -> None:
        if value is not None and (self.peak is None or value > self.peak):
            self.peak = value

    # --- snapshot ---------------------------------------------------------------------

    def to_json(self) -> dict[str, JsonValue]:
        open_alert: JsonValue = None
        if self.open is not None:
            open_alert = {
                "event_id": str(self.open.event_id),
                "raised_at": self.open.raised_at,
                "condition_since": self.open.condition_since,
            }
        return {
            "since": self.since,
            "due": self.due,
            "value": self.value,
            "peak": self.peak,
            "open": open_alert,
            "cooldown_until": None if self.cooldown_until == float("-inf") else self.cooldown_until,
        }

    @classmethod
    def from_json(cls, data: dict[str, JsonValue], cooldown_s: float) -> AlertTracker:
        tracker = cls(cooldown_s)
        tracker.since = _opt_float(data.get("since"))
        tracker.due = _opt_float(data.get("due"))
        tracker.value = _opt_float(data.get("value"))
        tracker.peak = _opt_float(data.get("peak"))
        cooldown = _opt_float(data.get("cooldown_until"))
        tracker.cooldown_until = float("-inf") if cooldown is None else cooldown
        raw = data.get("open")
        if isinstance(raw, dict):
            raised_at = _opt_float(raw.get("raised_at"))
            condition_since = _opt_float(raw.get("condition_since"))
            if raised_at is None or condition_since is None:
                raise ValueError("open alert without its times")
            tracker.open = OpenAlert(uuid.UUID(str(raw["event_id"])), raised_at, condition_since)
        return tracker


def _opt_float(value: JsonValue) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
