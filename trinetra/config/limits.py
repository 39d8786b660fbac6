"""Every size limit of the configuration a user supplies, in one place.

Each user-supplied collection and string of a camera (trinetra.config.camera) or a
store's analytics configuration (trinetra.config.analytics, trinetra.config.alerts) has a
maximum here, so that validating the largest allowed configuration stays cheap (a few
milliseconds) and nothing a client sends can make the gateway or a node spend minutes on
it. A value over a limit is refused with an error naming the field and the limit, before
any item is validated.

| limit                       | value | what                                            |
|-----------------------------|-------|-------------------------------------------------|
| MAX_STORE_CAMERAS           | 1024  | cameras registered in one store (gateway)       |
| MAX_ZONES_PER_CAMERA        | 32    | zones on one camera (camera `zones`, and the    |
|                             |       | analytics zones of one camera: a track's zone   |
|                             |       | membership is a 32-bit mask)                    |
| MAX_POLYGON_VERTICES        | 64    | vertices of one zone polygon                    |
| MAX_NAME_LENGTH             | 128   | a human-readable name                           |
| MAX_SOURCE_LENGTH           | 2048  | a camera source URL or path                     |
| MAX_ZONES                   | 256   | analytics zones of one store                    |
| MAX_LINES                   | 64    | counting lines of one store                     |
| MAX_FUNNELS                 | 16    | funnels of one store                            |
| MAX_FUNNEL_STAGES           | 10    | stages of one funnel                            |
| MAX_ALERT_RULES             | 256   | alert rules of one store                        |
| MAX_WEBHOOKS                | 16    | webhook endpoints of one store                  |
| MAX_RULE_CAMERAS            | 1024  | cameras one alert rule names                    |

Identifiers (camera, zone, line, rule ids) are slugs of at most 63 characters by their
pattern.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Final

__all__ = [
    "MAX_ALERT_RULES",
    "MAX_FUNNELS",
    "MAX_FUNNEL_STAGES",
    "MAX_LINES",
    "MAX_NAME_LENGTH",
    "MAX_POLYGON_VERTICES",
    "MAX_RULE_CAMERAS",
    "MAX_SOURCE_LENGTH",
    "MAX_STORE_CAMERAS",
    "MAX_WEBHOOKS",
    "MAX_ZONES",
    "MAX_ZONES_PER_CAMERA",
    "check_size",
]

MAX_STORE_CAMERAS: Final = 1024
MAX_ZONES_PER_CAMERA: Final = 32
MAX_POLYGON_VERTICES: Final = 64
MAX_NAME_LENGTH: Final = 128
MAX_SOURCE_LENGTH: Final = 2048
MAX_ZONES: Final = 256
MAX_LINES: Final = 64
MAX_FUNNELS: Final = 16
MAX_FUNNEL_STAGES: Final = 10
MAX_ALERT_RULES: Final = 256
MAX_WEBHOOKS: Final = 16
MAX_RULE_CAMERAS: Final = 1024


def check_size(value: object, limit: int, what: str) -> None:
    """Raise ValueError naming `what` and `limit` when a collection is over it; for a
    `mode="before"` validator, so an oversized input is refused before its items are
    validated (pydantic reports it under the field's name)."""
    if isinstance(value, Sized) and not isinstance(value, str | bytes) and len(value) > limit:
        raise ValueError(f"at most {limit} {what} allowed, got {len(value)}")
