"""The one sentence an alert carries, per rule kind, raised and resolved.

Messages name zones, lines and cameras by their configured names; they never name a
customer (a customer id is only in the event's subject, where erasure clears it).
"""

from __future__ import annotations

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

__all__ = ["raised_message", "resolved_message"]


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _s(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} s"


def raised_message(
    rule: AlertRule, place: str, value: float | None, threshold: float | None
) -> str:
    """`place`: the subject's name (zone, line or camera)."""
    match rule:
        case QueueLengthRule():
            return (
                f"Queue at {place}: {_n(value)} people (threshold {_n(threshold)}) "
                f"for {rule.for_s:g} s"
            )
        case QueueWaitRule():
            return f"Estimated wait at {place} is {_s(value)} (threshold {_s(threshold)})"
        case ZoneOverCapacityRule():
            return f"{place} holds {_n(value)} people (capacity {_n(threshold)})"
        case LoiteringRule():
            return f"Someone has stayed in {place} for {_s(value)} (threshold {_s(threshold)})"
        case StaffOnlyPresenceRule():
            when = " outside staff hours" if rule.allowed_hours is not None else ""
            return f"{_n(value)} people in staff-only zone {place}{when}"
        case VipArrivalRule():
            return f"A VIP customer has arrived (seen by camera {place})"
        case CameraOfflineRule():
            return f"Camera {place} has not been live for {_s(value)}"
        case FootfallAnomalyRule():
            return f"Footfall at {place} this hour is {_n(value)}, far from its usual level"
    raise TypeError(f"unknown rule {type(rule).__name__}")  # pragma: no cover


def resolved_message(
    rule: AlertRule, place: str, value: float | None, threshold: float | None, reason: str
) -> str:
    if reason in ("rule_disabled", "rule_removed"):
        return f"Alert rule {rule.name!r} was {reason.removeprefix('rule_')}; alert closed"
    match rule:
        case QueueLengthRule():
            return f"Queue at {place} is down to {_n(value)} people"
        case QueueWaitRule():
            return f"Estimated wait at {place} is back under {_s(threshold)}"
        case ZoneOverCapacityRule():
            return f"{place} is back under capacity ({_n(value)} people)"
        case LoiteringRule():
            return f"Nobody has stayed in {place} for {_s(threshold)} any more"
        case StaffOnlyPresenceRule():
            return f"Staff-only zone {place} is clear"
        case VipArrivalRule():
            if reason == "withdrawn":
                return "The VIP identification was withdrawn"
            return f"The VIP customer has not been seen for {_s(rule.resolve_after_s)}"
        case CameraOfflineRule():
            return f"Camera {place} is no longer offline (after {_s(value)})"
        case FootfallAnomalyRule():
            return f"Footfall at {place} is back within its usual range"
    raise TypeError(f"unknown rule {type(rule).__name__}")  # pragma: no cover
