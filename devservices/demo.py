"""`make demo`: the whole system on one machine, every part in its embedded form.

Starts Triton (CPU profile), NATS JetStream, PostgreSQL, a sample RTSP camera playing
vtest.avi, the analytics service (zones and lines of devservices/analytics.demo.yaml), the
identity service (Qdrant local mode), a store node and the gateway, shows
progress while it starts, then prints the dashboard URL. Ctrl-C stops everything.

    .venv/bin/python -m devservices.demo [--port 8080] [--seconds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import uvicorn

from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from devservices.nats import NatsServer
from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.rtsp import RtspServer
from devservices.triton import LocalTriton
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from identity.config import AuditConfig, GalleryConfig, IdentityConfig, ServiceConfig
from identity.service import IdentityService
from orchestrator.config.node import NodeSettings
from orchestrator.node import StoreNode
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import CameraConfig
from trinetra.events.connection import NatsConnection
from trinetra.inference import TritonSettings, VisionClient
from trinetra.logs import configure_logging
from trinetra.settings import load_yaml

STORE = "demo-store"
WORKDIR = REPO_ROOT / ".cache" / "demo"
SAMPLE_VIDEO = REPO_ROOT / ".cache" / "media" / "vtest.avi"
# The sample camera's entrance line, two area zones and a queue zone: seeds the store's
# configuration when NATS has none (the gateway imports it, the dashboard edits it).
ANALYTICS_CONFIG = REPO_ROOT / "devservices" / "analytics.demo.yaml"
T = TypeVar("T")


def step(text: str) -> None:
    print(f"  {text}", flush=True)


def timed(label: str, start: Callable[[], T]) -> T:
    began = time.monotonic()
    print(f"  {label} ...", end="", flush=True)
    result = start()
    print(f" ready ({time.monotonic() - began:.1f} s)", flush=True)
    return result


async def register_camera(base: str, token: str, camera: CameraConfig) -> None:
    mutation = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": mutation, "variables": {"c": camera.model_dump(mode="json")}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    errors = body.get("errors") or []
    if errors and "already" not in errors[0].get("message", ""):
        raise RuntimeError(f"registering the camera failed: {errors}")


async def wait_ready(base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError("the gateway did not become ready")


async def wait_analytics_config(service: AnalyticsService, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while service.processor is None:  # its configuration read (or seeded) from NATS KV
        if time.monotonic() > deadline:
            raise RuntimeError("the analytics service found no configuration")
        await asyncio.sleep(0.1)


async def run(
    args: argparse.Namespace, triton: LocalTriton, nats_url: str, db_url: str, camera_url: str
) -> None:
    secret = secrets.token_urlsafe(32)
    triton_settings = TritonSettings(url=triton.grpc_url, call_timeout_s=60)
    node_port = free_port()  # known before the node starts: the gateway relays live views to it
    # Before the gateway, so the configuration it imports at start is already seeded.
    analytics = AnalyticsService(
        AnalyticsSettings(
            store_id=STORE, nats_url=nats_url, health_port=0, log_json=False, log_level="WARNING"
        ),
        seed=load_yaml(ANALYTICS_CONFIG, StoreAnalyticsConfig, what="analytics config"),
    )
    await analytics.start()
    await wait_analytics_config(analytics)
    step("analytics service running (zones and lines: devservices/analytics.demo.yaml)")
    gateway_settings = GatewaySettings(
        store_id=STORE,
        database_url=db_url,
        nats_url=nats_url,
        jwt_secret=secret,
        triton=triton_settings,
        node_urls={STORE: f"http://127.0.0.1:{node_port}"},
        host="127.0.0.1",
        port=args.port,
        log_json=False,
        log_level="WARNING",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway_settings),
            host="127.0.0.1",
            port=args.port,
            log_config=None,
            access_log=False,
            ws="websockets-sansio",
        )
    )
    base = f"http://127.0.0.1:{args.port}"
    gateway_task = asyncio.create_task(server.serve())
    await wait_ready(base)
    step(f"gateway ready at {base}")

    connection = NatsConnection(nats_url, name="trinetra-identity")
    vision = VisionClient(triton_settings)
    identity = IdentityService(
        ServiceConfig(
            store_id=STORE,
            nats_servers=(nats_url,),
            triton=triton_settings,
            identity=IdentityConfig(
                gallery=GalleryConfig(path=str(WORKDIR / "gallery")),
                audit=AuditConfig(path=WORKDIR / "audit.jsonl"),
            ),
        ),
        analyzer=vision,
        connection=connection,
    )
    await identity.start()
    step("identity service ready (Qdrant local mode, .cache/demo/gallery)")

    camera = CameraConfig(
        id="entrance-1",
        name="Entrance (sample RTSP camera)",
        role="entrance",
        source=camera_url,
        target_fps=8,
    )
    operator = issue_token(secret, "demo-operator", ["operator"], ttl_s=7 * 24 * 3600)
    await register_camera(base, operator, camera)
    node_settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_url,
        triton=triton_settings,
        health_port=node_port,
        log_json=False,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with StoreNode(node_settings, [camera]) as node:
        step(f"store node running (health {f'http://127.0.0.1:{node.health.port}/health'})")
        print(
            f"\nDashboard: {base}/dashboard/#token={operator}\n"
            f"GraphQL:   {base}/graphql (Authorization: Bearer <the token above>)\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.seconds)
        analysed = node.cameras["entrance-1"].frames_analysed
    print(f"\nstopping: {analysed} frames analysed", flush=True)
    await identity.close()
    await connection.close()
    await analytics.stop()
    await vision.close()
    server.should_exit = True
    await gateway_task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="the gateway's port")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    args = parser.parse_args()
    configure_logging("WARNING", as_json=False)
    WORKDIR.mkdir(parents=True, exist_ok=True)
    print("TRINETRA demo: starting the embedded services", flush=True)
    with contextlib.ExitStack() as stack:
        triton = LocalTriton()
        timed("Triton, CPU profile (models from model_repository/)", triton.start)
        stack.callback(triton.stop)
        nats_server = NatsServer(WORKDIR / "nats")
        timed("NATS JetStream", nats_server.start)
        stack.callback(nats_server.stop)
        postgres = LocalPostgres(base_dir=None, throwaway=False)  # acked events must be on disk
        timed("PostgreSQL (embedded; TimescaleDB in production)", postgres.start)
        stack.callback(postgres.cleanup)
        camera = RtspServer(Path(SAMPLE_VIDEO))
        timed("sample RTSP camera playing vtest.avi", camera.start)
        stack.callback(camera.close)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args, triton, nats_server.url, postgres.url, camera.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
