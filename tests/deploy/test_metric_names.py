"""Every metric an alert rule or a Grafana dashboard names is one a process exports.

The store node, the gateway and Triton run for real and are scraped (a store node on a
real camera, the gateway on real PostgreSQL, the session's Triton after it analysed
frames). Two services are read from the registry their /metrics would serve, built as
they build it:

- the identity service serves `IdentityMetrics` on its health port (deploy/identity.yaml);
- the analytics service serves `AnalyticsService(...).metrics.registry` on its health
  port; the service is constructed (not started) to get exactly that registry.

Names a process does not make are the recording rules' series and the `up` Prometheus
writes itself. A name missing here is a typo, a renamed metric, or a metric removed
while a dashboard or an alert still reads it.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest

from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from identity.metrics import IdentityMetrics
from orchestrator.node import StoreNode
from tests.deploy.conftest import STORE
from tests.deploy.metric_names import (
    PROMETHEUS_SERIES,
    Use,
    dashboard_files,
    dashboard_uses,
    exported_names,
    names_in_expr,
    recorded_names,
    rule_uses,
)
from tests.gateway.helpers import RunningGateway
from tests.support.triton_server import LocalTriton


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def scrape(url: str) -> str:
    # Off the event loop: it serves the store node's and gateway's endpoints.
    return await asyncio.to_thread(_get, url)


def every_use() -> Iterator[Use]:
    yield from rule_uses()
    for path in dashboard_files():
        yield from dashboard_uses(path)


async def test_every_metric_a_rule_or_dashboard_names_is_exported(
    store_node: StoreNode, gateway: RunningGateway, triton_server: LocalTriton
) -> None:
    analytics = AnalyticsService(AnalyticsSettings(store_id=STORE, health_port=0))
    expositions = {
        "store node": await scrape(f"http://127.0.0.1:{store_node.health.port}/metrics"),
        "gateway": await scrape(f"{gateway.url}/metrics"),
        "triton": await scrape(triton_server.metrics_url),
        "identity": generate_latest(IdentityMetrics(CollectorRegistry()).registry).decode(),
        "analytics": generate_latest(analytics.metrics.registry).decode(),
    }
    exported = {source: exported_names(text) for source, text in expositions.items()}
    # Each source really answered with its own metrics (not an error page).
    assert "trinetra_frames_in_total" in exported["store node"]
    assert "trinetra_gateway_ingest_stored_total" in exported["gateway"]
    assert "nv_inference_request_success" in exported["triton"]
    known = set().union(*exported.values()) | recorded_names() | PROMETHEUS_SERIES

    uses = list(every_use())
    missing = sorted(
        {(use.where, name) for use in uses for name in names_in_expr(use.expr) if name not in known}
    )
    assert missing == []
    # The check read something: rules and all six dashboards name metrics.
    named = {use.where.split(":")[0] for use in uses if names_in_expr(use.expr)}
    assert named == {"trinetra.rules.yml"} | {path.name for path in dashboard_files()}
