"""The FastAPI application: GraphQL at /graphql, REST beside it (the heatmap PNG too), the
WebRTC live view (gateway/live/) and the dashboard (gateway/dashboard/), one `Gateway`
behind; the analytics configuration publisher (NATS KV) and the store nodes' snapshot
client live on the app's state.

app = create_app(GatewaySettings())   # uvicorn.run(app, ...)
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.bad_input import NulFreeUrls
from gateway.api.router import graphql_router
from gateway.config import GatewaySettings
from gateway.dashboard import mount_dashboard
from gateway.feeds.analytics_config import AnalyticsConfigPublisher
from gateway.limits import BodySizeLimit
from gateway.live.router import LiveView, live_router
from gateway.metrics import GatewayMetrics, route_label
from gateway.rest import health, heatmap, process_frame
from gateway.rest.snapshots import SnapshotClient
from gateway.runtime import Gateway


def create_app(settings: GatewaySettings, gateway: Gateway | None = None) -> FastAPI:
    gw = gateway if gateway is not None else Gateway(settings)
    live = LiveView(gw)
    analytics_config = AnalyticsConfigPublisher(gw.nats, gw.db, settings.store_id, gw.schema_ready)
    snapshots = SnapshotClient(settings.node_urls)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        analytics_config.start()
        # Everything allocated so far (modules, schema, clients) lives as long as the
        # process: keep it out of the cyclic collector, whose full passes over it took
        # ~100 ms each and showed up as p99 request latency.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await analytics_config.stop()
            await snapshots.close()
            await live.close()
            await gw.stop()

    app = FastAPI(
        title="TRINETRA gateway",
        description="GraphQL queries, mutations and live subscriptions over the store's "
        "events; REST health, metrics and process-frame.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gw
    app.state.analytics_config = analytics_config
    app.state.snapshots = snapshots
    app.include_router(health.router)
    app.include_router(process_frame.router)
    app.include_router(heatmap.router)
    app.include_router(graphql_router(gw), prefix="/graphql")
    app.include_router(live_router(live))
    mount_dashboard(app)

    # The last added is the outermost: the counter sees every answer, the body limit's
    # and the URL check's too; the body limit comes before anything reads the body.
    app.add_middleware(NulFreeUrls)
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_upload_bytes)
    app.add_middleware(RequestCounter, metrics=gw.metrics)
    return app


class RequestCounter:
    """Counts HTTP requests by route template and status class. Plain ASGI: Starlette's
    BaseHTTPMiddleware ran the app in a task group, which wrapped the body limit's error
    (an ExceptionGroup) and turned a 413 into a 500."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # raised before answering: the server error handler answers 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            # The router recorded the matched route in the scope on the way in.
            self.metrics.requests.labels(route_label(scope), f"{status // 100}xx").inc()
