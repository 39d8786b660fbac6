"""Live analytics subscriptions over graphql-transport-ws, fed from the real ANALYTICS
stream: zone occupancy, queue state, and line crossings with running totals that start
from what is already stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.gateway.analytics_helpers import (
    analytics_gateway,
    analytics_publisher,
    crossing,
    occupancy_change,
    queue_snapshot,
    scalar,
)
from tests.gateway.helpers import RunningGateway, WsClient, token
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import Event

pytestmark = pytest.mark.timeout(120)

OCCUPANCY = """subscription ($camera: String) { zoneOccupancy(cameraId: $camera) {
    cameraId zoneId count previous capacity overCapacity at configVersion } }"""
QUEUE = """subscription { queueState(zoneId: "q1") {
    zoneId length estimatedWaitS medianServiceS at } }"""
COUNTERS = """subscription ($since: DateTime!) { footfallCounters(lineId: "door", since: $since) {
    lineId direction crossedAt since entries exits countsStoreEntry } }"""


@pytest.fixture
async def live(
    database_url: str, nats_server: NatsServer
) -> AsyncIterator[tuple[RunningGateway, EventPublisher]]:
    async with (
        analytics_gateway(database_url, nats_server.url) as gateway,
        analytics_publisher(nats_server.url) as publisher,
    ):
        await eventually(lambda: gateway.gateway.hub.ready)
        yield gateway, publisher


def subscribers(gateway: RunningGateway) -> float:
    return read_metric(
        gateway.gateway.metrics.registry,
        "trinetra_gateway_live_subscribers",
        {"topic": "analytics"},
    )


async def test_occupancy_and_queue_state_arrive_live(
    live: tuple[RunningGateway, EventPublisher],
) -> None:
    gateway, publisher = live
    now = datetime.now(UTC)
    async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
        await client.subscribe(OCCUPANCY, {"camera": "cam-a"}, op_id="occupancy")
        await client.subscribe(QUEUE, op_id="queue")
        await eventually(lambda: subscribers(gateway) == 2)
        events: list[Event] = [
            occupancy_change("cam-b", "z9", now, 1, 0),  # another camera: filtered out
            occupancy_change("cam-a", "z1", now, 6, 5, capacity=5),
            queue_snapshot("cam-b", "q2", now, 9, 10.0),  # another queue
            queue_snapshot("cam-b", "q1", now, 3, 45.0),
        ]
        for event in events:
            publisher.publish(event)
        messages = {
            m["id"]: m["payload"]["data"] for m in [await client.receive() for _ in range(2)]
        }
    assert messages["occupancy"]["zoneOccupancy"] == {
        "cameraId": "cam-a",
        "zoneId": "z1",
        "count": 6,
        "previous": 5,
        "capacity": 5,
        "overCapacity": True,
        "at": now.isoformat(),
        "configVersion": 1,
    }
    assert messages["queue"]["queueState"] == {
        "zoneId": "q1",
        "length": 3,
        "estimatedWaitS": 45.0,
        "medianServiceS": 15.0,
        "at": now.isoformat(),
    }


async def test_footfall_counters_start_from_the_stored_crossings(
    live: tuple[RunningGateway, EventPublisher],
) -> None:
    gateway, publisher = live
    since = datetime.now(UTC) - timedelta(hours=1)
    # Already stored: two in and one out since `since`, one in before it, one other line.
    for event in [
        crossing("cam-a", "door", 1, since + timedelta(minutes=1), store_entry=True),
        crossing("cam-a", "door", 2, since + timedelta(minutes=2), store_entry=True),
        crossing("cam-a", "door", 3, since + timedelta(minutes=3), "out", store_entry=True),
        crossing("cam-a", "door", 4, since - timedelta(minutes=3), store_entry=True),
        crossing("cam-b", "aisle", 5, since + timedelta(minutes=4)),
    ]:
        publisher.publish(event)

    async def stored() -> bool:
        return int(await scalar(gateway, "SELECT count(*) FROM line_crossings")) == 5

    await eventually(stored)
    async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
        await client.subscribe(COUNTERS, {"since": since.isoformat()}, op_id="counters")
        await eventually(lambda: subscribers(gateway) == 1)
        live_in = crossing("cam-a", "door", 6, datetime.now(UTC), store_entry=True)
        for event in [
            crossing("cam-b", "aisle", 7, datetime.now(UTC)),  # another line
            live_in,
            crossing("cam-a", "door", 8, datetime.now(UTC), "out", store_entry=True),
        ]:
            publisher.publish(event)
        first = (await client.next_data())["footfallCounters"]
        second = (await client.next_data())["footfallCounters"]
    assert first == {
        "lineId": "door",
        "direction": "in",
        "crossedAt": live_in.crossed_at.isoformat(),
        "since": since.isoformat(),
        "entries": 3,
        "exits": 1,
        "countsStoreEntry": True,
    }
    assert (second["direction"], second["entries"], second["exits"]) == ("out", 3, 2)


async def test_an_invalid_since_is_refused(live: tuple[RunningGateway, EventPublisher]) -> None:
    gateway, _ = live
    async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
        future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        await client.subscribe(COUNTERS, {"since": future}, op_id="counters")
        message = await client.receive()
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
