"""Push mode deduplication against real NATS KV and a real Triton: one frame_id per
camera per window, under concurrency and across two gateways on one NATS."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.helpers import RunningGateway
from tests.gateway.push.helpers import URL, auth, frame_file, push_gateway, push_settings
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton

pytestmark = pytest.mark.timeout(300)


async def pipeline_requests(triton: LocalTriton) -> float:
    """Requests `vision_pipeline` has answered successfully: Triton's own count."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(triton.metrics_url)).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "nv_inference_request_success"
        for sample in family.samples
        if sample.labels.get("model") == "vision_pipeline"
    )


@pytest.fixture
async def gateway(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> AsyncIterator[RunningGateway]:
    config = push_settings(database_url, nats_server.url, triton_server.grpc_url)
    async with push_gateway(config) as running:
        yield running


async def push(gateway: RunningGateway, frame_id: str, name: str = "bus.jpg") -> dict[str, Any]:
    response = await gateway.http.post(
        URL,
        files=frame_file(name),
        data={"camera_id": "entrance-1", "frame_id": frame_id},
        headers=auth("operator"),
    )
    body: dict[str, Any] = response.json()
    body["http_status"] = response.status_code
    return body


def tally(answers: list[dict[str, Any]]) -> Counter[str]:
    return Counter(a["status"] for a in answers)


async def test_twenty_concurrent_requests_with_one_frame_id_are_processed_once(
    gateway: RunningGateway, triton_server: LocalTriton
) -> None:
    before = await pipeline_requests(triton_server)
    answers = await asyncio.gather(*(push(gateway, "frame-20") for _ in range(20)))
    assert tally(answers) == {"success": 1, "duplicate": 19}, answers
    (first,) = [a for a in answers if a["status"] == "success"]
    assert first["result_id"].startswith("res_")
    duplicates = [a for a in answers if a["status"] == "duplicate"]
    assert {a["result_id"] for a in duplicates} == {first["result_id"]}
    assert all(a["http_status"] == 200 and a["frame_id"] == "frame-20" for a in duplicates)
    assert await pipeline_requests(triton_server) - before == 1

    # Another camera's frame with the same id is another frame.
    other = await gateway.http.post(
        URL,
        files=frame_file(),
        data={"camera_id": "desk-1", "frame_id": "frame-20"},
        headers=auth("operator"),
    )
    assert other.json()["status"] == "success"

    # After the window (5 s, the bucket's TTL) the id is free again.
    await asyncio.sleep(5.5)
    again = await push(gateway, "frame-20")
    assert again["status"] == "success" and again["result_id"] != first["result_id"]


async def test_two_gateways_on_one_nats_process_a_frame_once(
    gateway: RunningGateway,
    database_url: str,
    nats_server: NatsServer,
    triton_server: LocalTriton,
) -> None:
    config = push_settings(database_url, nats_server.url, triton_server.grpc_url)
    async with push_gateway(config) as replica:
        before = await pipeline_requests(triton_server)
        answers = await asyncio.gather(
            *(push(g, "frame-replicas") for _ in range(10) for g in (gateway, replica))
        )
        assert tally(answers) == {"success": 1, "duplicate": 19}, answers
        (first,) = [a["result_id"] for a in answers if a["status"] == "success"]
        assert {a["result_id"] for a in answers} == {first}
        assert await pipeline_requests(triton_server) - before == 1


async def test_a_refused_frame_leaves_its_frame_id_free(gateway: RunningGateway) -> None:
    corrupt = await gateway.http.post(
        URL,
        files={"frame": ("x.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")},
        data={"camera_id": "entrance-1", "frame_id": "frame-retried"},
        headers=auth("operator"),
    )
    assert corrupt.status_code == 422, corrupt.text
    retried = await push(gateway, "frame-retried")
    assert retried["status"] == "success", retried
