"""The alerting component's settings: a section of the analytics service's settings
(`TRINETRA_ALERTS__*` when the service embeds it as `alerts`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from trinetra.config.network import DEFAULT_WEBHOOK_ALLOWED_NETWORKS, parse_networks
from trinetra.settings import ConfigModel

__all__ = ["AlertingSettings"]


class AlertingSettings(ConfigModel):
    """Alert rules and webhooks for one store (analytics/alerts)."""

    enabled: bool = Field(
        default=True, description="Run the alert rules and webhooks in this process."
    )
    durable_prefix: str = Field(
        default="alerts",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Prefix of the JetStream consumer names (<prefix>-<store>-<stream>, "
        "<prefix>-<store>-webhook-<endpoint>).",
    )
    webhook_allowlist: tuple[str, ...] = Field(
        default=DEFAULT_WEBHOOK_ALLOWED_NETWORKS,
        max_length=256,
        description="Networks webhook hosts may resolve into (CIDRs). Default: every "
        "address, loopback and private ranges included (on-premise receivers); link-local, "
        "cloud metadata and 0.0.0.0/8 are refused whatever this says.",
    )
    checkpoint_interval_s: float = Field(
        default=2.0,
        gt=0.0,
        le=600.0,
        description="Wall-clock seconds between checkpoints of the rule engine's state and "
        "stream positions (messages are acknowledged once a checkpoint covers them).",
    )
    tick_interval_s: float = Field(
        default=1.0,
        gt=0.0,
        le=60.0,
        description="How often the watchdog looks for cameras gone silent and VIP visits "
        "that ended (camera offline, VIP resolve), seconds.",
    )
    fetch_batch: int = Field(
        default=256, ge=1, le=10_000, description="Messages per JetStream pull request."
    )
    poll_s: float = Field(
        default=0.1,
        gt=0.0,
        le=5.0,
        description="How long an idle pull waits for messages before asking again: the "
        "worst delay it adds to an alert, seconds.",
    )
    ack_wait_s: float = Field(
        default=60.0,
        gt=1.0,
        le=3600.0,
        description="Seconds JetStream waits for an acknowledgement before redelivering "
        "(rule inputs: must exceed checkpoint_interval_s; deliveries in progress renew it).",
    )

    @field_validator("webhook_allowlist")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(value, role="webhook")
        return value
