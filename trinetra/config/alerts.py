"""Alert rules and webhook endpoints: the `alert_rules` and `webhooks` sections of a store's
analytics configuration (`trinetra.config.analytics.StoreAnalyticsConfig`).

A rule is one condition on live analytics, discriminated by `kind`:

| kind                  | raised when                                                  | subject  |
|-----------------------|--------------------------------------------------------------|----------|
| `queue_length`        | a queue zone holds >= `min_length` people for `for_s`        | zone     |
| `queue_wait`          | a queue's estimated wait >= `min_wait_s` for `for_s`         | zone     |
| `zone_over_capacity`  | a zone's occupancy >= its capacity for `for_s`               | zone     |
| `loitering`           | someone has stayed in a zone for >= `min_dwell_s`            | zone     |
| `staff_only_presence` | >= `min_people` in a `staff_only` zone (optionally only     | zone     |
|                       | outside `allowed_hours`) for `for_s`                         |          |
| `vip_arrival`         | an `identity.resolved` event names a VIP customer            | customer |
| `camera_offline`      | a camera's status is not `live` for `offline_for_s`          | camera   |
| `footfall_anomaly`    | a line's count this hour is `z_threshold` standard deviations | line     |
|                       | from the same weekday-hour of the last `baseline_weeks`      |          |

Every rule has a severity, can be disabled, and a `cooldown_s`: after an alert resolves,
the same rule does not raise again for the same subject until the cooldown has passed
(a queue hovering around its threshold gives one alert, not one a minute). How alerts
are deduplicated, timed and resolved is analytics/alerts/engine.py's documentation.

Footfall baseline (`footfall_anomaly`), in the rule's `timezone`: hour H's count is
compared with the counts of the same weekday and hour in each of the previous
`baseline_weeks` weeks that the analytics saw (an hour in which the line's camera sent
nothing is missing, not zero). With n >= `min_history_weeks` such counts, mean m and
sample standard deviation s, z = (count - m) / max(s, `min_sigma`); |z| >= `z_threshold`
is an anomaly. A count already that far *above* the baseline is raised during the hour
(it can only grow); one far below is known when the hour closes. The alert resolves
when an hour closes within the band. Fewer than `min_history_weeks` weeks: no alert.

Webhooks: each endpoint receives the `alert.raised` / `alert.resolved` events that pass
its filters, HMAC-signed (trinetra/webhooks/signature.py documents the header and how a
receiver verifies it). The `secret` is write-only: it is masked ("**********") in every
dump and repr unless the dump is made with `context=REVEAL_SECRETS` (for the one store
that must keep it, the NATS KV configuration entry); a masked dump cannot be validated
back by mistake, since the mask is shorter than any valid secret.

Webhook URLs are checked here against the SSRF rules of `trinetra.config.network`
(`WEBHOOK_POLICY`, or the policy passed as `context={"webhook_policy": policy}`): IP
literals in link-local or metadata ranges and metadata host names are refused, naming
the field. No DNS lookup happens at validation (a resolver hiccup must not invalidate a
store's whole configuration); the sender resolves and checks the host before every
connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import time
from enum import StrEnum
from typing import Annotated, Final, Literal, Protocol, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    SerializationInfo,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from trinetra.config.limits import (
    MAX_ALERT_RULES,
    MAX_NAME_LENGTH,
    MAX_RULE_CAMERAS,
    MAX_WEBHOOKS,
)
from trinetra.config.network import WEBHOOK_POLICY, NetworkPolicy
from trinetra.retry import BackoffConfig
from trinetra.settings import ConfigModel
from trinetra.vocabulary import AlertSeverity

__all__ = [
    "MAX_ALERT_RULES",
    "MAX_WEBHOOKS",
    "REVEAL_SECRETS",
    "SECRET_MASK",
    "AlertRule",
    "AlertRuleKind",
    "CameraOfflineRule",
    "DailyHours",
    "FootfallAnomalyRule",
    "LoiteringRule",
    "QueueLengthRule",
    "QueueWaitRule",
    "StaffOnlyPresenceRule",
    "VipArrivalRule",
    "WebhookEndpoint",
    "ZoneOverCapacityRule",
    "check_alert_references",
]

DAY_S: Final = 86_400.0
WEEK_S: Final = 7 * DAY_S

# Same shape as the zone, line and camera ids of trinetra.config.analytics (a test checks
# that the two patterns agree): a lowercase slug, safe in NATS subjects and KV keys.
SLUG_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=1, max_length=63)]

SECRET_MASK: Final = "**********"
_REVEAL_KEY: Final = "reveal_secrets"
REVEAL_SECRETS: Final[Mapping[str, bool]] = {_REVEAL_KEY: True}
"""Serialization context that writes webhook secrets in clear:
`config.model_dump_json(context=REVEAL_SECRETS)`. Only for the configuration store."""

MIN_SECRET_LENGTH: Final = 16


class AlertRuleKind(StrEnum):
    """What a rule watches: the `kind` of a rule and the `rule_kind` of its alert events
    (trinetra/events/schema.py lists the same values; a test checks they agree)."""

    QUEUE_LENGTH = "queue_length"
    QUEUE_WAIT = "queue_wait"
    ZONE_OVER_CAPACITY = "zone_over_capacity"
    LOITERING = "loitering"
    STAFF_ONLY_PRESENCE = "staff_only_presence"
    VIP_ARRIVAL = "vip_arrival"
    CAMERA_OFFLINE = "camera_offline"
    FOOTFALL_ANOMALY = "footfall_anomaly"


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as 'Asia/Kolkata')"
        ) from exc
    return name


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64)]


class _RuleBase(ConfigModel):
    """What every rule has."""

    id: Slug = Field(description="Rule id, unique among the store's alert rules (slug).")
    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Human-readable name, shown with its alerts.",
    )
    severity: AlertSeverity = Field(
        default=AlertSeverity.WARNING, description="Severity of the alerts this rule raises."
    )
    enabled: bool = Field(
        default=True, description="A disabled rule raises nothing; its open alerts resolve."
    )
    cooldown_s: float = Field(
        default=300.0,
        ge=0.0,
        le=WEEK_S,
        description="After an alert of this rule resolves, seconds (of event time) before "
        "it may raise again for the same subject.",
    )


class _HeldRule(_RuleBase):
    """A rule whose condition must hold for a while before it raises."""

    for_s: float = Field(
        default=0.0,
        ge=0.0,
        le=DAY_S,
        description="Seconds the condition must hold without a break before the alert is "
        "raised (0: at once).",
    )


class QueueLengthRule(_HeldRule):
    """A queue zone holds at least `min_length` people for `for_s` seconds."""

    kind: Literal["queue_length"] = Field(description="Rule type tag.")
    zone_id: Slug = Field(description="The queue zone (kind 'queue') watched.")
    min_length: int = Field(ge=1, le=10_000, description="People in the queue that count.")
    for_s: float = Field(
        default=30.0,
        ge=0.0,
        le=DAY_S,
        description="Seconds the queue must stay at least min_length long before the alert.",
    )


class QueueWaitRule(_HeldRule):
    """A queue's estimated wait (length x median service time) reaches `min_wait_s`."""

    kind: Literal["queue_wait"] = Field(description="Rule type tag.")
    zone_id: Slug = Field(description="The queue zone (kind 'queue') watched.")
    min_wait_s: float = Field(
        gt=0.0, le=DAY_S, description="Estimated wait, seconds, that raises the alert."
    )


class ZoneOverCapacityRule(_HeldRule):
    """A zone's occupancy reaches its capacity."""

    kind: Literal["zone_over_capacity"] = Field(description="Rule type tag.")
    zone_id: Slug = Field(description="The zone watched.")
    capacity: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Occupancy that raises the alert; None: the zone's configured capacity "
        "(which must then be set).",
    )


class LoiteringRule(_RuleBase):
    """Someone has stayed in a zone for at least `min_dwell_s` (their stay is still open).
    One alert per zone, for as long as anyone is loitering there."""

    kind: Literal["loitering"] = Field(description="Rule type tag.")
    zone_id: Slug = Field(description="The zone watched.")
    min_dwell_s: float = Field(
        gt=0.0, le=DAY_S, description="Length of one stay, seconds, that counts as loitering."
    )


class DailyHours(ConfigModel):
    """A daily time window in a time zone, [start, end); end < start spans midnight."""

    start: time = Field(description="Local time the window opens (HH:MM).")
    end: time = Field(description="Local time the window closes (HH:MM), exclusive.")
    timezone: TimeZoneName = Field(
        default="UTC", description="IANA time zone of start and end (e.g. 'Asia/Kolkata')."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        return self


class StaffOnlyPresenceRule(_HeldRule):
    """Someone is in a `staff_only` zone (optionally: only outside `allowed_hours`)."""

    kind: Literal["staff_only_presence"] = Field(description="Rule type tag.")
    zone_id: Slug = Field(description="The staff-only zone (kind 'staff_only') watched.")
    min_people: int = Field(
        default=1, ge=1, le=10_000, description="People in the zone that raise the alert."
    )
    allowed_hours: DailyHours | None = Field(
        default=None,
        description="Daily window in which presence is expected (staff on shift): no alert "
        "then. None: presence raises at any hour.",
    )


class VipArrivalRule(_RuleBase):
    """A customer flagged VIP was identified (`identity.resolved` with vip=true).

    The alert stays open while the customer keeps being seen and resolves
    `resolve_after_s` after their last identification (or at once when the identity is
    withdrawn); the cooldown then keeps a returning VIP from raising again too soon."""

    kind: Literal["vip_arrival"] = Field(description="Rule type tag.")
    camera_ids: tuple[Slug, ...] = Field(
        default=(),
        max_length=MAX_RULE_CAMERAS,
        description="Cameras whose identifications count (e.g. the entrance); empty: all.",
    )
    resolve_after_s: float = Field(
        default=900.0,
        gt=0.0,
        le=DAY_S,
        description="Seconds after the customer's last identification that the alert resolves.",
    )
    cooldown_s: float = Field(
        default=3600.0,
        ge=0.0,
        le=WEEK_S,
        description="After an alert for a customer resolves, seconds before the same "
        "customer may raise again.",
    )


class CameraOfflineRule(_RuleBase):
    """A camera's status has not been `live` for `offline_for_s` seconds."""

    kind: Literal["camera_offline"] = Field(description="Rule type tag.")
    camera_ids: tuple[Slug, ...] = Field(
        default=(),
        max_length=MAX_RULE_CAMERAS,
        description="Cameras watched; empty: every camera that reports a status.",
    )
    offline_for_s: float = Field(
        default=60.0,
        gt=0.0,
        le=DAY_S,
        description="Seconds without a live status before the alert.",
    )
    include_stopped: bool = Field(
        default=False,
        description="Count a deliberately stopped camera (state 'stopped') as offline too.",
    )


class FootfallAnomalyRule(_RuleBase):
    """A line's count in the current hour is far from the same hour's baseline (module
    docs for the statistics)."""

    kind: Literal["footfall_anomaly"] = Field(description="Rule type tag.")
    line_id: Slug = Field(description="The counting line watched.")
    direction: Literal["in", "out", "both"] = Field(
        default="in", description="Crossings counted: in, out, or both added."
    )
    z_threshold: float = Field(
        default=3.0,
        gt=0.0,
        le=20.0,
        description="Standard deviations from the baseline mean that make an anomaly.",
    )
    baseline_weeks: int = Field(
        default=4,
        ge=1,
        le=12,
        description="Weeks back whose same weekday-hour form the baseline.",
    )
    min_history_weeks: int = Field(
        default=3,
        ge=1,
        le=12,
        description="Baseline hours needed (out of baseline_weeks) before the rule judges "
        "anything.",
    )
    min_sigma: float = Field(
        default=1.0,
        gt=0.0,
        le=10_000.0,
        description="Floor on the baseline's standard deviation (a perfectly regular "
        "history would otherwise make every difference infinitely unusual).",
    )
    timezone: TimeZoneName = Field(
        default="UTC", description="IANA time zone whose hours and weekdays are compared."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @model_validator(mode="after")
    def _history_within_baseline(self) -> Self:
        if self.min_history_weeks > self.baseline_weeks:
            raise ValueError(
                f"min_history_weeks ({self.min_history_weeks}) must be <= baseline_weeks "
                f"({self.baseline_weeks})"
            )
        return self


AlertRule = Annotated[
    QueueLengthRule
    | QueueWaitRule
    | ZoneOverCapacityRule
    | LoiteringRule
    | StaffOnlyPresenceRule
    | VipArrivalRule
    | CameraOfflineRule
    | FootfallAnomalyRule,
    Field(discriminator="kind"),
]
RULE_TYPES: Final = (
    QueueLengthRule,
    QueueWaitRule,
    ZoneOverCapacityRule,
    LoiteringRule,
    StaffOnlyPresenceRule,
    VipArrivalRule,
    CameraOfflineRule,
    FootfallAnomalyRule,
)


def _webhook_policy(info: ValidationInfo) -> NetworkPolicy:
    context = info.context
    if isinstance(context, dict):
        policy = context.get("webhook_policy")
        if isinstance(policy, NetworkPolicy):
            return policy
    return WEBHOOK_POLICY


def check_webhook_url(url: str, policy: NetworkPolicy = WEBHOOK_POLICY) -> str:
    """A webhook URL's form and host, without DNS (module docs); returns it stripped."""
    url = url.strip()
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise ValueError("url must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url must be http:// or https://, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise ValueError("url has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials (user:password@); use the secret")
    if parts.fragment:
        raise ValueError("url must not have a #fragment (it is never sent)")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise ValueError(f"url has an invalid port: {exc}") from exc
    policy.check_name(parts.hostname)
    return url


class WebhookEndpoint(ConfigModel):
    """An HTTP receiver of this store's alerts."""

    id: Slug = Field(description="Endpoint id, unique among the store's webhooks (slug).")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL the alerts are POSTed to. Link-local and cloud metadata "
        "addresses are refused; the host is resolved and checked again before every "
        "connection.",
    )
    secret: SecretStr = Field(
        min_length=MIN_SECRET_LENGTH,
        max_length=256,
        description=f"HMAC-SHA256 key of the X-Trinetra-Signature header, at least "
        f"{MIN_SECRET_LENGTH} characters. Write-only: never shown back.",
    )
    enabled: bool = Field(default=True, description="A disabled endpoint receives nothing.")
    severities: tuple[AlertSeverity, ...] = Field(
        default=(), max_length=3, description="Severities delivered; empty: every severity."
    )
    rule_kinds: tuple[AlertRuleKind, ...] = Field(
        default=(), max_length=len(AlertRuleKind), description="Rule kinds delivered; empty: all."
    )
    send_resolved: bool = Field(
        default=True, description="Also deliver alert.resolved events, not only alert.raised."
    )
    include_customer_ids: bool = Field(
        default=False,
        description="Send the customer id of VIP alerts. Off by default: a customer id is "
        "personal data, and the receiver is outside TRINETRA's erasure.",
    )
    max_attempts: int = Field(
        default=6,
        ge=1,
        le=20,
        description="Delivery attempts before an alert goes to the dead-letter stream.",
    )
    timeout_s: float = Field(
        default=5.0, gt=0.0, le=30.0, description="Seconds one attempt may take, in all."
    )
    max_concurrency: int = Field(
        default=4, ge=1, le=64, description="Deliveries in flight to this endpoint at once."
    )
    backoff: BackoffConfig = Field(
        default=BackoffConfig(initial_s=0.5, max_s=30.0),
        description="Waits between attempts (exponential, full jitter).",
    )

    @field_validator("url")
    @classmethod
    def _safe_url(cls, url: str, info: ValidationInfo) -> str:
        return check_webhook_url(url, _webhook_policy(info))

    @field_serializer("secret", when_used="always")
    def _write_only(self, secret: SecretStr, info: SerializationInfo) -> str:
        context = info.context
        if isinstance(context, Mapping) and context.get(_REVEAL_KEY) is True:
            return secret.get_secret_value()
        return SECRET_MASK

    def accepts(self, rule_kind: str, severity: str, *, resolved: bool) -> bool:
        """Whether an alert event of this kind and severity goes to this endpoint."""
        if not self.enabled or (resolved and not self.send_resolved):
            return False
        if self.severities and severity not in self.severities:
            return False
        return not self.rule_kinds or rule_kind in self.rule_kinds

    @property
    def host(self) -> str:
        """The URL's host, for logs and dead letters (the URL itself may hold a token)."""
        return urlsplit(self.url).hostname or ""


class ZoneLike(Protocol):
    """What the reference check needs of a zone (trinetra.config.analytics.ZoneDefinition)."""

    @property
    def camera_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def capacity(self) -> int | None: ...


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def check_alert_references(
    rules: Sequence[AlertRule],
    webhooks: Sequence[WebhookEndpoint],
    *,
    zones: Mapping[str, ZoneLike],
    line_ids: Iterable[str],
    camera_ids: Iterable[str] | None,
) -> None:
    """Raise ValueError, naming the rule and field, when ids repeat or a rule names a zone,
    line or camera the store does not have (or a zone of the wrong kind)."""
    dupes = _duplicates(rule.id for rule in rules)
    if dupes:
        raise ValueError(f"alert_rules: duplicate rule ids: {', '.join(dupes)}")
    dupes = _duplicates(hook.id for hook in webhooks)
    if dupes:
        raise ValueError(f"webhooks: duplicate endpoint ids: {', '.join(dupes)}")
    lines = frozenset(line_ids)
    cameras = None if camera_ids is None else frozenset(camera_ids)
    for index, rule in enumerate(rules):
        where = f"alert_rules[{index}] ({rule.id})"
        if isinstance(rule, FootfallAnomalyRule):
            if rule.line_id not in lines:
                raise ValueError(f"{where}: line_id {rule.line_id!r} is not a line of this store")
            continue
        if isinstance(rule, VipArrivalRule | CameraOfflineRule):
            unknown = [] if cameras is None else [c for c in rule.camera_ids if c not in cameras]
            if unknown:
                raise ValueError(f"{where}: camera_ids names unknown camera {unknown[0]!r}")
            continue
        zone = zones.get(rule.zone_id)
        if zone is None:
            raise ValueError(f"{where}: zone_id {rule.zone_id!r} is not a zone of this store")
        needed = _ZONE_KIND_NEEDED.get(rule.kind)
        if needed is not None and str(zone.kind) != needed:
            raise ValueError(
                f"{where}: zone_id {rule.zone_id!r} is a {zone.kind} zone; a {rule.kind} "
                f"rule needs a {needed} zone"
            )
        if (
            isinstance(rule, ZoneOverCapacityRule)
            and rule.capacity is None
            and zone.capacity is None
        ):
            raise ValueError(
                f"{where}: capacity is not set and zone {rule.zone_id!r} has no capacity"
            )


_ZONE_KIND_NEEDED: Final[dict[str, str]] = {
    "queue_length": "queue",
    "queue_wait": "queue",
    "staff_only_presence": "staff_only",
}
