"""A subscription lives no longer than its token: at the token's expiry the gateway closes
the socket with 4401 "token expired", and no event published after that moment reaches
the client (the probe of issue 14 saw 310 events delivered after expiry)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from tests.gateway.helpers import (
    SECRET,
    RunningGateway,
    WsClient,
    camera_status,
    running_gateway,
    settings,
    token,
    wait_schema,
)
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher

pytestmark = pytest.mark.timeout(120)

STATUS = "subscription { cameraStatus { cameraId reconnectAttempt } }"
TTL_S = 3  # issue_token keeps whole seconds: the token has 2-3 s left when it is used


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    """No leeway, so the token expires exactly at its `exp`."""
    async with running_gateway(
        settings(database_url, nats_server.url, jwt_leeway_s=0.0)
    ) as running:
        await wait_schema(running.gateway)
        yield running


def expiry(bearer: str) -> float:
    claims: dict[str, Any] = jwt.decode(bearer, SECRET, algorithms=["HS256"])
    return float(claims["exp"])


@pytest.mark.parametrize("via", ["connection_init", "upgrade_header"])
async def test_the_socket_closes_at_expiry_and_nothing_is_sent_after(
    gateway: RunningGateway, publisher: EventPublisher, via: str
) -> None:
    await eventually(lambda: gateway.gateway.hub.ready)
    bearer = token("viewer", ttl_s=TTL_S)
    expires_at = expiry(bearer)
    headers = {"Authorization": f"Bearer {bearer}"}
    connect = (
        WsClient.connect(gateway.ws_url, bearer)
        if via == "connection_init"
        else WsClient.connect(gateway.ws_url, None, additional_headers=headers)
    )
    published: dict[int, float] = {}  # reconnectAttempt -> when it was published
    received: list[int] = []

    async def publish_until_closed() -> None:
        attempt = 0
        while True:
            attempt += 1
            published[attempt] = time.time()
            publisher.publish(camera_status("cam-1", "error", datetime.now(UTC), attempt))
            await asyncio.sleep(0.02)

    close: ConnectionClosed | None = None
    async with connect as client:
        await client.subscribe(STATUS)
        publishing = asyncio.create_task(publish_until_closed())
        try:
            # Listen until a second past expiry, or until the gateway closes the socket.
            while (left := expires_at + 1.0 - time.time()) > 0:
                try:
                    data = await client.next_data(timeout_s=left)
                except TimeoutError:
                    break
                except ConnectionClosed as exc:
                    close = exc
                    break
                received.append(data["cameraStatus"]["reconnectAttempt"])
            closed_at = time.time()
        finally:
            publishing.cancel()

    after = [n for n in received if published[n] >= expires_at]
    assert after == [], f"{len(after)} events published after expiry were delivered"
    assert close is not None and close.rcvd is not None, "the socket outlived its token"
    assert (close.rcvd.code, close.rcvd.reason) == (4401, "token expired")
    assert received, "events arrived while the token was valid"
    after = [n for n in received if published[n] >= expires_at]
    assert after == [], f"{len(after)} events published after expiry were delivered"
    print(f"{len(received)} events before expiry; closed {closed_at - expires_at:+.3f} s from it")


async def test_an_idle_connection_is_closed_at_expiry(gateway: RunningGateway) -> None:
    bearer = token("viewer", ttl_s=TTL_S)
    expires_at = expiry(bearer)
    async with WsClient.connect(gateway.ws_url, bearer) as client:
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # until closed: nothing but pings may come
                message = await client.receive(timeout_s=expires_at - time.time() + 10)
                assert message["type"] == "ping", message
        closed_at = time.time()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token expired")
    assert closed_at >= expires_at - 0.05  # not before it (whole-second exp, loop clock)
