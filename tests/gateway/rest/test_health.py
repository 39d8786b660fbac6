"""/health, /ready and /metrics on the running gateway."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.helpers import RunningGateway
from tests.support.metrics import read_metric
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(120)


async def test_health_ready_and_metrics(gateway: RunningGateway) -> None:
    health = (await gateway.http.get("/health")).json()
    assert health["status"] == "ok"  # the process answers, whatever the other parts do
    assert {c["name"] for c in health["components"]} >= {"triton", "identity", "ingest"}
    ready = await eventually(lambda: _ready(gateway))
    assert ready == {"ready": True, "database": True, "schema": True, "nats": True, "live": True}
    metrics = (await gateway.http.get("/metrics")).text
    assert (
        "trinetra_gateway_ingest_stored_total" in metrics
        or "trinetra_gateway_http_requests_total" in metrics
    )
    assert (
        read_metric(
            metrics, "trinetra_gateway_http_requests_total", {"route": "/health", "status": "2xx"}
        )
        == 1.0
    )


async def _ready(gateway: RunningGateway) -> dict[str, Any] | None:
    response = await gateway.http.get("/ready")
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 else None
