"""One HTTP attempt to deliver an alert to a webhook: the shared signed, SSRF-checked
POST (trinetra/webhooks/delivery.py, which documents the checks and the outcomes) with
the alert's headers and the endpoint's secret and timeout."""

from __future__ import annotations

from typing import Final

import httpx

from trinetra.config.alerts import WebhookEndpoint
from trinetra.config.network import NetworkPolicy
from trinetra.webhooks.delivery import Attempt, post_signed

__all__ = ["Attempt", "attempt_delivery"]

USER_AGENT: Final = "trinetra-alerts/1"


async def attempt_delivery(
    client: httpx.AsyncClient,
    endpoint: WebhookEndpoint,
    body: bytes,
    *,
    event_id: str,
    event_kind: str,
    attempt: int,
    policy: NetworkPolicy,
    now: float | None = None,
) -> Attempt:
    """POST `body` to the endpoint once."""
    return await post_signed(
        client,
        endpoint.url,
        body,
        secret=endpoint.secret.get_secret_value(),
        event_id=event_id,
        timeout_s=endpoint.timeout_s,
        policy=policy,
        user_agent=USER_AGENT,
        headers={
            "X-Trinetra-Event-Kind": event_kind,
            "X-Trinetra-Delivery-Attempt": str(attempt),
        },
        now=now,
    )
