"""End to end on real NATS: the store's configuration in ANALYTICS_CONFIG, analytics,
camera status and identity events on their streams -> alerts on ALERTS -> a real
webhook receiver; and a restarted component that resumes its open alerts."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from analytics.alerts.component import Alerting
from tests.analytics.alerts.helpers import CAM, FAST, STORE, T0
from tests.analytics.alerts.receiver import SECRET, Receiver, receiving
from tests.support.jetstream import stream_events
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.config.alerts import REVEAL_SECRETS
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import ANALYTICS_CONFIG_BUCKET, analytics_config_key, ensure_bucket
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    AlertRaisedEvent,
    AlertResolvedEvent,
    CameraStatusEvent,
    Event,
    IdentityResolvedEvent,
    QueueSnapshotEvent,
    decode,
)
from trinetra.events.streams import ALL_STREAMS, ANALYTICS_STREAMS

pytestmark = pytest.mark.timeout(180)

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]


def store_config(receiver: Receiver, version: int = 1, **rule: Any) -> StoreAnalyticsConfig:
    return StoreAnalyticsConfig.model_validate(
        {
            "store_id": STORE,
            "version": version,
            "zones": [
                {"id": "queue", "camera_id": CAM, "name": "Till queue", "kind": "queue",
                 "polygon": SQUARE},
            ],
            "alert_rules": [
                {"kind": "queue_length", "id": "long-queue", "name": "Long queue",
                 "zone_id": "queue", "min_length": 3, "for_s": 2, "severity": "critical",
                 **rule},
                {"kind": "camera_offline", "id": "offline", "name": "Camera offline",
                 "offline_for_s": 1},
                {"kind": "vip_arrival", "id": "vip", "name": "VIP", "severity": "info"},
            ],
            "webhooks": [{"id": "ops", "url": receiver.url, "secret": SECRET,
                          "include_customer_ids": True}],
        }
    )  # fmt: skip


async def put_config(nats_url: str, config: StoreAnalyticsConfig) -> None:
    nc = await nats.connect(nats_url)
    try:
        kv = await ensure_bucket(nc.jetstream(), ANALYTICS_CONFIG_BUCKET)
        # The secret is write-only: the one store that keeps it dumps it in clear.
        value = config.model_dump_json(context=REVEAL_SECRETS).encode()
        await kv.put(analytics_config_key(STORE), value)
    finally:
        await nc.close()


@asynccontextmanager
async def producers(nats_url: str) -> AsyncIterator[EventPublisher]:
    """One publisher for every input stream (the node's, the identity service's and the
    analytics service's events)."""
    async with (
        NatsConnection(nats_url, name="producers") as connection,
        EventPublisher(connection, streams=(*ALL_STREAMS, *ANALYTICS_STREAMS)) as publisher,
    ):
        yield publisher


@asynccontextmanager
async def alerting(nats_url: str) -> AsyncIterator[Alerting]:
    async with NatsConnection(nats_url, name="alerting") as connection:
        component = Alerting(connection, STORE, FAST)
        await component.start()
        try:
            assert await component.wait_ready(30)
            yield component
        finally:
            await component.stop()


def queue(second: float, length: int) -> QueueSnapshotEvent:
    return QueueSnapshotEvent(
        store_id=STORE,
        camera_id=CAM,
        occurred_at=T0 + timedelta(seconds=second),
        config_version=1,
        zone_id="queue",
        length=length,
        served=0,
        abandoned=0,
        over_wait_threshold=False,
    )


def publish(publisher: EventPublisher, events: Sequence[Event]) -> None:
    for event in events:
        publisher.publish(event)


async def alerts_of(nats_url: str, rule_id: str) -> list[AlertRaisedEvent | AlertResolvedEvent]:
    return [
        e
        for e in await stream_events(nats_url, "ALERTS")
        if isinstance(e, AlertRaisedEvent | AlertResolvedEvent) and e.rule_id == rule_id
    ]


async def kinds_on_alerts(nats_url: str, rule_id: str, count: int) -> list[Any] | None:
    found = await alerts_of(nats_url, rule_id)
    return found if len(found) >= count else None


async def test_a_long_queue_becomes_an_alert_on_the_stream_and_at_the_webhook(
    nats_server: NatsServer,
) -> None:
    url = nats_server.url
    with receiving() as receiver:
        await put_config(url, store_config(receiver))
        async with producers(url) as publisher, alerting(url):
            # Three or more people from 0 s: the condition holds for 2 s at 2 s.
            publish(publisher, [queue(s, 4) for s in range(0, 4)])
            (raised,) = await eventually(lambda: kinds_on_alerts(url, "long-queue", 1), 20)
            assert isinstance(raised, AlertRaisedEvent)
            assert raised.occurred_at == T0 + timedelta(seconds=2)
            assert (raised.severity, raised.value, raised.threshold) == ("critical", 4.0, 3.0)
            assert raised.config_version == 1
            got = await eventually(
                lambda: [d for d in receiver.deliveries if d.event_id == str(raised.event_id)],
                20,
                message="the webhook delivery",
            )
            assert got[0].signature_ok and decode(got[0].body) == raised
            # The queue empties: resolved, on the stream and at the webhook.
            publish(publisher, [queue(4, 0)])
            _, resolved = await eventually(lambda: kinds_on_alerts(url, "long-queue", 2), 20)
            assert isinstance(resolved, AlertResolvedEvent)
            assert resolved.raised_event_id == raised.event_id
            assert resolved.occurred_at == T0 + timedelta(seconds=4)
            await eventually(
                lambda: any(d.event_id == str(resolved.event_id) for d in receiver.deliveries),
                20,
                message="the resolve delivered",
            )


async def test_camera_status_and_identity_streams_drive_their_rules(
    nats_server: NatsServer,
) -> None:
    url = nats_server.url
    with receiving() as receiver:
        await put_config(url, store_config(receiver))
        async with producers(url) as publisher, alerting(url):
            now = datetime.now(UTC)
            # The camera fails and says nothing more: the watchdog raises 1 s after.
            publisher.publish(CameraStatusEvent(
                store_id=STORE, camera_id=CAM, occurred_at=now, state="error", reason="gone"
            ))  # fmt: skip
            (offline,) = await eventually(lambda: kinds_on_alerts(url, "offline", 1), 20)
            assert offline.kind == "alert.raised"
            assert offline.occurred_at == now + timedelta(seconds=1)
            publisher.publish(CameraStatusEvent(
                store_id=STORE, camera_id=CAM, occurred_at=now + timedelta(seconds=5),
                state="live",
            ))  # fmt: skip
            await eventually(lambda: kinds_on_alerts(url, "offline", 2), 20)
            publisher.publish(
                IdentityResolvedEvent(
                    store_id=STORE,
                    camera_id=CAM,
                    occurred_at=now,
                    track_id=3,
                    visit_id=uuid.uuid4(),
                    customer_id="cust-vip",
                    confidence=0.9,
                    votes=5,
                    window=5,
                    vip=True,
                )
            )
            (vip,) = await eventually(lambda: kinds_on_alerts(url, "vip", 1), 20)
            assert vip.subject.customer_id == "cust-vip"
            delivered = await eventually(
                lambda: [d for d in receiver.deliveries if d.event_id == str(vip.event_id)], 20
            )
            assert json.loads(delivered[0].body)["subject"]["customer_id"] == "cust-vip"


async def test_a_restarted_component_resumes_its_open_alert_and_raises_nothing_twice(
    nats_server: NatsServer,
) -> None:
    url = nats_server.url
    with receiving() as receiver:
        await put_config(url, store_config(receiver))
        async with producers(url) as publisher:
            async with alerting(url):
                publish(publisher, [queue(s, 5) for s in range(0, 4)])
                (raised,) = await eventually(lambda: kinds_on_alerts(url, "long-queue", 1), 20)
            # Stopped (with its checkpoint); meanwhile the rule changes: its for_s grows.
            await put_config(url, store_config(receiver, version=2, for_s=3))
            publish(publisher, [queue(s, 5) for s in range(4, 8)])
            async with alerting(url) as component:
                publish(publisher, [queue(8, 1)])
                _, resolved = await eventually(lambda: kinds_on_alerts(url, "long-queue", 2), 20)
                assert isinstance(resolved, AlertResolvedEvent)
                assert resolved.raised_event_id == raised.event_id
                assert resolved.occurred_at == T0 + timedelta(seconds=8)
                assert resolved.config_version == 2
                assert component.runner.engine is not None
                assert component.runner.engine.config.version == 2
            events = await alerts_of(url, "long-queue")
            assert [e.kind for e in events] == ["alert.raised", "alert.resolved"]
