"""Priorities in push mode, with the completion order of a real Triton: an urgent frame
overtakes a full queue of low-priority ones, displacing the newest of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.config import PushSettings
from tests.gateway.helpers import RunningGateway
from tests.gateway.push.helpers import URL, auth, frame_file, push_gateway, push_settings
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton

pytestmark = pytest.mark.timeout(300)

QUEUED = 6  # the queue's size: one frame in Triton, six waiting fill it


@pytest.fixture
async def gateway(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> AsyncIterator[RunningGateway]:
    push = PushSettings(max_concurrent=1, max_queued=QUEUED)
    config = push_settings(database_url, nats_server.url, triton_server.grpc_url, push=push)
    async with push_gateway(config) as running:
        yield running


async def test_an_urgent_frame_overtakes_a_full_queue_of_bulk_frames(
    gateway: RunningGateway,
) -> None:
    gate = gateway.gateway.push.processor.gate
    finished: list[tuple[str, int, dict[str, Any]]] = []

    async def push(name: str, priority: str) -> None:
        response = await gateway.http.post(
            URL,
            files=frame_file(),
            data={
                "camera_id": "billing-1" if priority == "urgent" else "entrance-1",
                "frame_id": name,
                "priority": priority,
            },
            headers=auth("operator"),
        )
        finished.append((name, response.status_code, response.json()))

    bulk = [asyncio.create_task(push(f"bulk-{i}", "low")) for i in range(QUEUED + 1)]
    await eventually(lambda: gate.running == 1 and gate.waiting == QUEUED, 30, message="queue full")
    # Full of frames at least as urgent: another low one is refused at once.
    refused_at = time.monotonic()
    await push("bulk-late", "low")
    assert finished[-1][1] == 503 and finished[-1][2]["error"]["code"] == "QUEUE_FULL"
    assert time.monotonic() - refused_at < 1.0
    urgent = asyncio.create_task(push("billing", "urgent"))
    await asyncio.gather(urgent, *bulk)

    order = [name for name, status, _ in finished if status == 200]
    displaced = [body for name, status, body in finished if status == 503 and name != "bulk-late"]
    # The newest low frame made room, and the urgent one ran right after the frame that
    # was already in Triton, ahead of the five bulk frames queued before it.
    assert [d["error"]["code"] for d in displaced] == ["QUEUE_FULL"]
    assert "more urgent" in displaced[0]["error"]["message"]
    assert len(order) == QUEUED + 1
    assert order.index("billing") == 1, order
    urgent_body = next(body for name, _, body in finished if name == "billing")
    assert urgent_body["processing_info"]["priority"] == "urgent"


async def test_a_frame_past_its_timeout_leaves_the_queue(gateway: RunningGateway) -> None:
    gate = gateway.gateway.push.processor.gate

    async def push(frame_id: str, **fields: str) -> tuple[int, dict[str, Any]]:
        response = await gateway.http.post(
            URL,
            files=frame_file(),
            data={"camera_id": "entrance-1", "frame_id": frame_id, **fields},
            headers=auth("operator"),
        )
        body: dict[str, Any] = response.json()
        return response.status_code, body

    busy = [asyncio.create_task(push(f"busy-{i}")) for i in range(3)]
    await eventually(lambda: gate.running == 1 and gate.waiting == 2, 30, message="queued")
    started = time.monotonic()
    status, body = await push("impatient", timeout_ms="200", priority="low")
    assert time.monotonic() - started < 2.0
    assert status == 504 and body["error"] == {
        "code": "MODEL_TIMEOUT",
        "message": "the frame was not processed within timeout_ms=200",
    }
    assert gate.waiting <= 2  # it left the queue
    assert all(status == 200 for status, _ in await asyncio.gather(*busy))
    # Its frame_id was released with it.
    status, body = await push("impatient")
    assert status == 200 and body["status"] == "success"
