"""Webhooks against a real HTTP receiver and real NATS: signed deliveries, retries after
5xx, dead letters after the last attempt, and SSRF refused at send time."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.analytics.alerts.helpers import (
    alert,
    dead_letters,
    dispatching,
    webhook_queue,
)
from tests.analytics.alerts.receiver import Receiver, receiving
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.config.network import webhook_policy
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import AlertSubject, decode
from trinetra.events.streams import ALERTS_STREAM

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def alerts_publisher(nats_server: NatsServer) -> AsyncIterator[EventPublisher]:
    async with (
        NatsConnection(nats_server.url, name="alerts-test") as connection,
        EventPublisher(connection, streams=(ALERTS_STREAM,)) as publisher,
    ):
        yield publisher


async def delivered(receiver: Receiver, count: int, timeout_s: float = 15.0) -> list[Any]:
    return await eventually(
        lambda: receiver.deliveries if len(receiver.deliveries) >= count else None,
        timeout_s,
        message=f"{count} deliveries",
    )


async def test_a_delivery_is_the_signed_event_with_its_id(
    nats_server: NatsServer, alerts_publisher: EventPublisher
) -> None:
    with receiving() as receiver:
        async with dispatching(receiver.url, nats_server.url, severities=["warning"]):
            raised = alert(1)
            alerts_publisher.publish(alert(2, severity="info"))  # filtered out
            alerts_publisher.publish(raised)
            (got,) = await delivered(receiver, 1)
            assert got.signature_ok
            assert got.path == "/alerts"
            assert got.event_id == str(raised.event_id)
            assert got.headers["content-type"] == "application/json"
            assert got.headers["x-trinetra-event-kind"] == "alert.raised"
            assert got.headers["x-trinetra-delivery-attempt"] == "1"
            assert decode(got.body) == raised
            await asyncio.sleep(0.5)
            assert len(receiver.deliveries) == 1  # the info alert was never sent
            assert await webhook_queue(nats_server.url) == (0, 0)


async def test_customer_ids_are_removed_unless_the_endpoint_may_have_them(
    nats_server: NatsServer, alerts_publisher: EventPublisher
) -> None:
    vip = alert(
        3,
        rule_id="vip",
        rule_kind="vip_arrival",
        dedup_key="vip/customer:0123",
        subject=AlertSubject(camera_id="cam-a", customer_id="cust-42"),
    )
    with receiving() as receiver:
        async with dispatching(receiver.url, nats_server.url):
            alerts_publisher.publish(vip)
            (got,) = await delivered(receiver, 1)
            body = decode(got.body)
            assert body.event_id == vip.event_id
            assert "cust-42" not in got.body.decode()
    with receiving() as receiver:
        async with dispatching(receiver.url, nats_server.url, include_customer_ids=True):
            alerts_publisher.publish(alert(4, subject=vip.subject, dedup_key="vip/customer:1"))
            (got,) = await delivered(receiver, 1)
            assert json.loads(got.body)["subject"]["customer_id"] == "cust-42"


async def test_5xx_answers_are_retried_with_backoff_until_delivered(
    nats_server: NatsServer, alerts_publisher: EventPublisher
) -> None:
    with receiving([500, 503, 200]) as receiver:
        async with dispatching(receiver.url, nats_server.url, max_attempts=5):
            raised = alert(5)
            alerts_publisher.publish(raised)
            got = await delivered(receiver, 3)
            assert [d.status for d in got] == [500, 503, 200]
            assert {d.event_id for d in got} == {str(raised.event_id)}
            assert [d.headers["x-trinetra-delivery-attempt"] for d in got] == ["1", "2", "3"]
            assert all(d.signature_ok for d in got)  # each attempt signed afresh
            await asyncio.sleep(0.7)
            assert len(receiver.deliveries) == 3  # acknowledged: not sent again
            assert await webhook_queue(nats_server.url) == (0, 0)
            assert await dead_letters(nats_server.url) == []


async def test_after_the_last_attempt_the_alert_is_dead_lettered_and_the_queue_moves_on(
    nats_server: NatsServer, alerts_publisher: EventPublisher
) -> None:
    with receiving([500]) as receiver:
        async with dispatching(receiver.url, nats_server.url, max_attempts=3):
            failed = alert(6)
            alerts_publisher.publish(failed)
            await delivered(receiver, 3)
            (record,) = await eventually(lambda: dead_letters(nats_server.url), 10)
            assert record["endpoint_id"] == "ops" and record["host"] == "127.0.0.1"
            assert record["event_id"] == str(failed.event_id)
            assert record["attempts"] == 3
            assert (record["reason"], record["last_status"]) == ("HTTP 500", 500)
            assert record["alert"] == json.loads(failed.model_dump_json())
            # Acknowledged once dead-lettered: the next alert is delivered.
            receiver.answer(200)
            after = alert(7)
            alerts_publisher.publish(after)
            got = await delivered(receiver, 4)
            assert got[-1].event_id == str(after.event_id) and got[-1].status == 200
            await asyncio.sleep(0.5)
            assert len(receiver.deliveries) == 4
            assert await webhook_queue(nats_server.url) == (0, 0)
            # A refusal (4xx) cannot be helped by retrying: dead-lettered at once.
            receiver.answer(400)
            refused = alert(8)
            alerts_publisher.publish(refused)
            records = await eventually(
                lambda: _at_least(dead_letters(nats_server.url), 2), 10, message="2 dead letters"
            )
            assert records[-1]["event_id"] == str(refused.event_id)
            assert (records[-1]["attempts"], records[-1]["last_status"]) == (1, 400)
            assert len(receiver.deliveries) == 5


async def _at_least(records: Any, count: int) -> list[dict[str, Any]] | None:
    found = await records
    return found if len(found) >= count else None


async def test_a_host_resolving_outside_the_allowlist_is_refused_at_send_time(
    nats_server: NatsServer, alerts_publisher: EventPublisher
) -> None:
    with receiving() as receiver:
        # `localhost` is a name: valid configuration. At send time it resolves to
        # 127.0.0.1, outside this process's allowlist: never connected to.
        url = f"http://localhost:{receiver.port}/alerts"
        async with dispatching(url, nats_server.url, policy=webhook_policy(["10.0.0.0/8"])):
            refused = alert(9)
            alerts_publisher.publish(refused)
            (record,) = await eventually(lambda: dead_letters(nats_server.url), 10)
            assert record["event_id"] == str(refused.event_id) and record["attempts"] == 1
            assert record["reason"].startswith("address refused")
            assert "outside the webhook allowlist" in record["reason"]
            await asyncio.sleep(0.3)
            assert receiver.deliveries == []


async def test_dns_rebinding_to_a_metadata_address_is_refused_at_send_time(
    nats_server: NatsServer, alerts_publisher: EventPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # The name passed the configuration check; now it answers with the metadata
        # service (a DNS rebinding). Every other name resolves for real.
        if host == "hooks.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    async with dispatching("http://hooks.rebind.test/alerts", nats_server.url):
        refused = alert(10)
        alerts_publisher.publish(refused)
        (record,) = await eventually(lambda: dead_letters(nats_server.url), 10)
        assert record["event_id"] == str(refused.event_id) and record["attempts"] == 1
        assert "169.254.169.254" in record["reason"] and "link-local" in record["reason"]
        assert record["host"] == "hooks.rebind.test"
