"""Builders for the alert engine's tests: a store with one zone of each kind, rules,
and inputs at seconds after T0."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analytics.alerts.engine import AlertEngine
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import AlertRaisedEvent, AlertResolvedEvent, RuleAlertEvent

STORE = "store-1"
CAM = "cam-a"
OTHER_CAM = "cam-b"
# Monday 2026-01-05 10:00 UTC
T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC).timestamp()

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]
OTHER_SQUARE = [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]]


def t(seconds: float) -> float:
    return T0 + seconds


def config(*rules: dict[str, Any], version: int = 1) -> StoreAnalyticsConfig:
    return StoreAnalyticsConfig.model_validate(
        {
            "store_id": STORE,
            "version": version,
            "zones": [
                {"id": "queue", "camera_id": CAM, "name": "Till queue", "kind": "queue",
                 "polygon": SQUARE},
                {"id": "till", "camera_id": CAM, "name": "Till", "kind": "checkout",
                 "polygon": OTHER_SQUARE},
                {"id": "floor", "camera_id": OTHER_CAM, "name": "Floor", "kind": "area",
                 "polygon": SQUARE, "capacity": 5},
                {"id": "back", "camera_id": OTHER_CAM, "name": "Back room",
                 "kind": "staff_only", "polygon": OTHER_SQUARE},
            ],
            "lines": [
                {"id": "door", "camera_id": OTHER_CAM, "name": "Front door",
                 "a": [0.0, 0.5], "b": [1.0, 0.5], "in_side": "right"},
            ],
            "alert_rules": list(rules),
        }
    )  # fmt: skip


def engine(*rules: dict[str, Any]) -> AlertEngine:
    return AlertEngine(config(*rules))


def raised(events: list[RuleAlertEvent]) -> list[AlertRaisedEvent]:
    return [e for e in events if isinstance(e, AlertRaisedEvent)]


def resolved(events: list[RuleAlertEvent]) -> list[AlertResolvedEvent]:
    return [e for e in events if isinstance(e, AlertResolvedEvent)]


def kinds(events: list[RuleAlertEvent]) -> list[str]:
    return [e.kind for e in events]


def seconds(event: RuleAlertEvent) -> float:
    """An event's occurred_at as seconds after T0."""
    return round(event.occurred_at.timestamp() - T0, 6)
