"""/health (the process answers, and the last probed health of every other part of the
system: gateway/health_probes.py), /ready (database, schema, NATS, live feeds: the
gateway's own) and /metrics (the gateway's own Prometheus registry).

/health is 200 whatever the parts' states: `status` says the gateway answers, `system`
is the worst part's status, `components` each part with its reason. It only reads the
probes' last results, so it never waits on a peer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.health_probes import overall_status
from gateway.runtime import Gateway

router = APIRouter()


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    components = _gateway(request).health.components()
    return {
        "status": "ok",
        "system": overall_status(components).value,
        "components": [c.as_json() for c in components],
    }


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    checks = await _gateway(request).readiness()
    ok = all(checks.values())
    return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = _gateway(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
