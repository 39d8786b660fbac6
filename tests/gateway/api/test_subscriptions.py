"""Live GraphQL subscriptions over graphql-transport-ws, fed from real NATS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from datetime import timedelta
from typing import Any

import nats
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from gateway.config import LiveSettings
from tests.gateway.helpers import (
    T0,
    RunningGateway,
    WsClient,
    camera_status,
    running_gateway,
    settings,
    token,
    track_lifecycle,
    wait_schema,
)
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import encode, subject_for

pytestmark = pytest.mark.timeout(120)

TRACK_EVENTS = """subscription($cameras: [String!], $kinds: [TrackEventKind!], $minScore: Float) {
  trackEvents(cameraIds: $cameras, kinds: $kinds, minScore: $minScore) {
    kind cameraId trackId trackUid occurredAt box { x1 } score durationS endReason
  }
}"""
STATUS = "subscription { cameraStatus { cameraId state reason reconnectAttempt } }"


def subscribers(gateway: RunningGateway, topic: str) -> float:
    return read_metric(
        gateway.gateway.metrics.registry, "trinetra_gateway_live_subscribers", {"topic": topic}
    )


async def live(gateway: RunningGateway) -> None:
    await eventually(lambda: gateway.gateway.hub.ready)


async def test_track_events_arrive_live_with_filters(
    gateway: RunningGateway, publisher: EventPublisher
) -> None:
    await live(gateway)
    async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
        await client.subscribe(
            TRACK_EVENTS, {"cameras": ["cam-1"], "kinds": ["STARTED", "ENDED"]}, op_id="tracks"
        )
        await client.subscribe(STATUS, op_id="status")
        await eventually(lambda: subscribers(gateway, "tracks") == 1)
        await eventually(lambda: subscribers(gateway, "status") == 1)

        wanted = track_lifecycle("cam-1", 3, T0, updates=2)
        for event in [
            *track_lifecycle("cam-2", 9, T0),  # another camera: filtered out
            *wanted,
            camera_status("cam-1", "error", T0, attempt=2),
        ]:
            publisher.publish(event)
        messages = [await client.receive() for _ in range(3)]

    tracks = [m["payload"]["data"]["trackEvents"] for m in messages if m["id"] == "tracks"]
    assert [(t["kind"], t["cameraId"], t["trackId"]) for t in tracks] == [
        ("STARTED", "cam-1", 3),
        ("ENDED", "cam-1", 3),
    ]
    assert tracks[0]["trackUid"] == str(wanted[0].track_uid)
    assert tracks[0]["box"] == {"x1": 0.1} and tracks[0]["score"] == 0.8
    assert tracks[1]["durationS"] == 2.0 and tracks[1]["endReason"] == "lost"
    assert tracks[0]["occurredAt"] == T0.isoformat()
    status = [m["payload"]["data"]["cameraStatus"] for m in messages if m["id"] == "status"]
    assert status == [
        {"cameraId": "cam-1", "state": "ERROR", "reason": "stream lost", "reconnectAttempt": 2}
    ]
    await eventually(lambda: subscribers(gateway, "tracks") == 0)

    # The same events, stored by ingest, come back from queries.
    query = """query($from: DateTime!, $to: DateTime!) {
      tracks(cameraId: "cam-1", from: $from, to: $to) { nodes { uid samples ended } }
      cameras { id status reconnectAttempt } }"""
    span = {
        "from": (T0 - timedelta(minutes=1)).isoformat(),
        "to": (T0 + timedelta(minutes=1)).isoformat(),
    }

    async def stored() -> dict[str, Any] | None:
        data: dict[str, Any] = await gateway.data(query, span)
        return data if data["tracks"]["nodes"] and data["cameras"] else None

    data = await eventually(stored)
    assert data["tracks"]["nodes"] == [
        {"uid": str(wanted[0].track_uid), "samples": 3, "ended": True}
    ]
    assert data["cameras"] == [{"id": "cam-1", "status": "ERROR", "reconnectAttempt": 2}]


async def test_subscriptions_need_a_valid_token(gateway: RunningGateway) -> None:
    for bearer, reason in [
        (None, "missing bearer token"),
        ("not-a-token", "invalid token: Not enough segments"),
        (token("viewer", ttl_s=-300), "token expired"),
    ]:
        async with WsClient.connect(gateway.ws_url, bearer, ack=False) as client:
            with pytest.raises(ConnectionClosed) as closed:
                await client.receive()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, reason)

    # a valid token without a scope the subscription needs
    async with WsClient.connect(gateway.ws_url, token("billing")) as client:
        await client.subscribe(STATUS, op_id="s")
        message = await client.receive()
    assert message["type"] == "next"
    assert message["payload"]["errors"][0]["message"] == "requires scope viewer"


@contextlib.asynccontextmanager
async def _slow_socket(port: int):  # type: ignore[no-untyped-def]
    """A TCP connection that buffers as little as the kernel allows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    try:
        yield sock
    finally:
        sock.close()


async def test_a_slow_subscriber_is_dropped_and_never_slows_the_others(
    database_url: str, nats_server: NatsServer
) -> None:
    """A client that stops reading is cut off once the kernel's socket buffers and then
    its queue of 64 results are full, while a client with the very same subscription
    (one shared execution) and one watching a single camera get every event."""
    live_settings = LiveSettings(subscriber_queue=64, close_grace_s=1.0)
    config = settings(database_url, nats_server.url, live=live_settings)
    # ~1.5 KB a result: the stalled client's backlog outgrows any socket buffer.
    fields = " ".join(f"u{i}: trackUid" for i in range(25))
    big = f"subscription {{ trackEvents {{ kind {fields} }} }}"
    async with running_gateway(config) as gateway:
        await wait_schema(gateway.gateway)
        await live(gateway)
        async with (
            _slow_socket(gateway.port) as sock,
            websockets.connect(
                gateway.ws_url,
                sock=sock,
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                max_queue=1,
                compression=None,
            ) as slow,
            WsClient.connect(gateway.ws_url, token("viewer")) as steady,
            WsClient.connect(gateway.ws_url, token("viewer")) as fast,
        ):
            init = {"Authorization": f"Bearer {token('viewer')}"}
            await slow.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(await slow.recv())["type"] == "connection_ack"
            payload = {"query": big}
            await slow.send(json.dumps({"id": "slow", "type": "subscribe", "payload": payload}))
            await steady.subscribe(big, op_id="steady")
            await fast.subscribe(TRACK_EVENTS, {"cameras": ["cam-1"]}, op_id="fast")
            await eventually(lambda: subscribers(gateway, "tracks") == 2)  # two groups
            assert gateway.gateway.shared.groups == 2

            # ~12 MB for each big subscriber, one event in ten for the camera watcher,
            # at a pace the server keeps up with (2500 events/s).
            burst = [
                event
                for i in range(1600)
                for event in track_lifecycle(
                    "cam-1" if i % 10 == 0 else "cam-2", i, T0 + timedelta(seconds=i)
                )
            ]
            wanted = sum(1 for e in burst if e.camera_id == "cam-1")
            nc = await nats.connect(nats_server.url)

            async def publish() -> None:
                for start in range(0, len(burst), 25):
                    for event in burst[start : start + 25]:
                        await nc.publish(subject_for(event), encode(event))
                    await nc.flush()
                    await asyncio.sleep(0.01)

            async def drain(client: WsClient, count: int) -> list[dict[str, object]]:
                return [await client.next_data(timeout_s=20) for _ in range(count)]

            publishing = asyncio.create_task(publish())
            got, everything = await asyncio.gather(drain(fast, wanted), drain(steady, len(burst)))
            await publishing
            await nc.close()
            tracks = [g["trackEvents"] for g in got]
            assert {t["cameraId"] for t in tracks} == {"cam-1"}  # type: ignore[index]
            assert len({(t["trackId"], t["kind"], t["occurredAt"]) for t in tracks}) == wanted  # type: ignore[index]
            assert len(everything) == len(burst) == 8000

            # The stalled one was cut off, not left to buffer without end: with megabytes
            # unread in front of any close frame, its connection is aborted (a reader that
            # is merely slow gets close code 4008 and the reason).
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(slow.recv(), 20)
            if closed.value.rcvd is not None:
                assert closed.value.rcvd.code == 4008
                assert closed.value.rcvd.reason.startswith("slow consumer: more than 64")
        dropped = read_metric(
            gateway.gateway.metrics.registry,
            "trinetra_gateway_live_dropped_clients_total",
            {"topic": "shared"},
        )
        assert dropped == 1
        assert gateway.gateway.shared.groups == 0


async def test_a_dropped_subscriber_is_told_why(database_url: str, nats_server: NatsServer) -> None:
    """With room for one result, a burst overflows at once; the socket still takes a
    close frame, so the client gets 4008 and the reason rather than a reset."""
    config = settings(database_url, nats_server.url, live=LiveSettings(subscriber_queue=1))
    async with running_gateway(config) as gateway:
        await wait_schema(gateway.gateway)
        await live(gateway)
        async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
            await client.subscribe(TRACK_EVENTS, op_id="t")
            await eventually(lambda: subscribers(gateway, "tracks") == 1)
            nc = await nats.connect(nats_server.url)
            for event in track_lifecycle("cam-1", 1, T0, updates=20):
                await nc.publish(subject_for(event), encode(event))
            await nc.close()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await client.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4008
    assert closed.value.rcvd.reason.startswith("slow consumer: more than 1 ")
    assert closed.value.rcvd.reason.endswith("reconnect and query what was missed")
