"""Alert events, a running webhook dispatcher and dead-letter reads for the services
tests of analytics/alerts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import nats.js.errors

from analytics.alerts.deadletter import DEADLETTER_STREAM
from analytics.alerts.settings import AlertingSettings
from analytics.alerts.webhooks import WebhookDispatcher
from tests.analytics.alerts.receiver import SECRET
from trinetra.config.alerts import WebhookEndpoint
from trinetra.config.network import NetworkPolicy
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import AlertRaisedEvent, AlertSubject

STORE = "store-1"
CAM = "cam-a"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
# Fast enough for tests: idle pulls of 50 ms, frequent checkpoints and ticks.
FAST = AlertingSettings(poll_s=0.05, checkpoint_interval_s=0.3, tick_interval_s=0.1)


def alert(n: int = 0, **fields: Any) -> AlertRaisedEvent:
    values: dict[str, Any] = {
        "store_id": STORE,
        "camera_id": CAM,
        "occurred_at": T0 + timedelta(seconds=n),
        "rule_id": "long-queue",
        "rule_kind": "queue_length",
        "rule_name": "Long queue",
        "severity": "warning",
        "dedup_key": f"long-queue/zone:queue-{n}",
        "subject": AlertSubject(camera_id=CAM, zone_id="queue"),
        "message": "Queue at Till: 5 people (threshold 3) for 30 s",
        "value": 5.0,
        "threshold": 3.0,
        "unit": "people",
        "condition_since": T0,
    }
    values.update(fields)
    return AlertRaisedEvent.model_validate(values)


def endpoint(url: str, **fields: Any) -> WebhookEndpoint:
    values: dict[str, Any] = {
        "id": "ops",
        "url": url,
        "secret": SECRET,
        "backoff": {"initial_s": 0.05, "max_s": 0.2},
        "timeout_s": 2.0,
    }
    values.update(fields)
    return WebhookEndpoint.model_validate(values)


@asynccontextmanager
async def dispatching(
    url: str,
    nats_url: str,
    *,
    policy: NetworkPolicy | None = None,
    **fields: Any,
) -> AsyncIterator[WebhookDispatcher]:
    """A dispatcher delivering the store's alerts to one endpoint at `url`."""
    async with NatsConnection(nats_url, name="webhooks-test") as connection:
        dispatcher = WebhookDispatcher(connection, STORE, FAST, policy=policy)
        await dispatcher.configure([endpoint(url, **fields)])
        assert await dispatcher.wait_bound(10)
        try:
            yield dispatcher
        finally:
            await dispatcher.stop()


async def dead_letters(nats_url: str) -> list[dict[str, Any]]:
    """Every record in ALERTS_DEADLETTER, oldest first."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(DEADLETTER_STREAM.name)
        except nats.js.errors.NotFoundError:
            return []
        records = []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            msg = await js.get_msg(DEADLETTER_STREAM.name, seq)
            assert msg.data is not None
            records.append(json.loads(msg.data))
        return records
    finally:
        await nc.close()


async def webhook_queue(nats_url: str, endpoint_id: str = "ops") -> tuple[int, int]:
    """(not yet delivered, delivered but unacknowledged) of an endpoint's queue."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(
            "ALERTS", f"{FAST.durable_prefix}-{STORE}-webhook-{endpoint_id}"
        )
        return int(info.num_pending or 0), int(info.num_ack_pending or 0)
    finally:
        await nc.close()
