"""`trinetra_gateway_http_requests_total` names each request's route template: /graphql
(its router is included with a prefix), templates with parameters, and `other` for a path
no route matches; never an empty route."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.helpers import RunningGateway
from tests.support.metrics import read_metric

pytestmark = pytest.mark.timeout(120)

REQUESTS = "trinetra_gateway_http_requests_total"


async def test_requests_are_counted_under_their_route_template(gateway: RunningGateway) -> None:
    await gateway.data("{ cameras { id } }")
    unauthenticated = await gateway.http.post("/graphql", json={"query": "{ cameras { id } }"})
    assert unauthenticated.status_code == 401
    # Refused (no token), but routed: a template with a parameter in it.
    assert (await gateway.http.get("/api/v1/heatmap/cam-1.png")).status_code == 401
    assert (await gateway.http.get("/no/such/path")).status_code == 404

    metrics = (await gateway.http.get("/metrics")).text
    assert read_metric(metrics, REQUESTS, {"route": "/graphql", "status": "2xx"}) == 1.0
    assert read_metric(metrics, REQUESTS, {"route": "/graphql", "status": "4xx"}) == 1.0
    heatmap = {"route": "/api/v1/heatmap/{camera_id}.png", "status": "4xx"}
    assert read_metric(metrics, REQUESTS, heatmap) == 1.0
    assert read_metric(metrics, REQUESTS, {"route": "other", "status": "4xx"}) == 1.0
    assert _routes(metrics) >= {"/graphql", "/api/v1/heatmap/{camera_id}.png", "other"}
    assert "" not in _routes(metrics)


def _routes(metrics: str) -> set[str]:
    """Every route label value the counter has a sample for."""
    return {
        sample.labels["route"]
        for family in text_string_to_metric_families(metrics)
        if family.name == REQUESTS.removesuffix("_total")
        for sample in family.samples
        if "route" in sample.labels
    }
