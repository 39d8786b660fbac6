"""A running store (a store node on a real RTSP camera, real Triton and NATS, and the
gateway on real PostgreSQL) for the tests that scrape it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.gateway.helpers import RunningGateway, running_gateway, settings, wait_schema
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer
from tests.support.triton_server import LocalTriton
from trinetra.config.camera import BackoffConfig, CameraConfig
from trinetra.inference import TritonSettings

STORE = "blr-01"  # the gateway helpers' store
CAMERA = "door"


@pytest.fixture
async def store_node(
    triton_server: LocalTriton, nats_server: NatsServer, rtsp_server: RtspServer
) -> AsyncIterator[StoreNode]:
    """A store node watching `rtsp_server` as camera `door`, once it analyses frames."""
    camera = CameraConfig(
        id=CAMERA,
        name="Door",
        role="entrance",
        source=rtsp_server.url,
        target_fps=2,
        open_timeout_s=5,
        read_timeout_s=3,
        reconnect=BackoffConfig(initial_s=0.2, max_s=1.0),
    )
    node_settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_server.url,
        triton=TritonSettings(url=triton_server.grpc_url, call_timeout_s=30, retries=2),
        health_port=0,
        identity_enabled=False,
    )
    node = StoreNode(node_settings, [camera], metrics=OrchestratorMetrics(CollectorRegistry()))
    async with node:
        await eventually(
            lambda: node.cameras[CAMERA].frames_analysed > 0,
            90,
            interval_s=0.2,
            message="the store node's first analysed frame",
        )
        yield node


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings(database_url, nats_server.url)) as running:
        await wait_schema(running.gateway)
        yield running
