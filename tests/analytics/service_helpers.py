"""Driving the analytics service against a real NATS: recorded detections into
DETECTIONS, configurations into ANALYTICS_CONFIG, the ANALYTICS stream read back."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.client import Client as NATS
from prometheus_client import CollectorRegistry

from analytics.metrics import AnalyticsMetrics
from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from tests.analytics.scenarios import STORE
from tests.support.jetstream import stream_events
from tests.support.polling import eventually
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.kv import (
    ANALYTICS_CONFIG_BUCKET,
    analytics_config_key,
    encode_analytics_config,
    ensure_bucket,
)
from trinetra.events.publisher import MSG_ID_HEADER
from trinetra.events.schema import (
    ANALYTICS_EVENT_TYPES,
    AnalyticsEvent,
    DetectionsEvent,
    encode,
    subject_for,
)
from trinetra.events.streams import DEFAULT_STREAMS, ensure_streams


def settings(nats_url: str, **overrides: Any) -> AnalyticsSettings:
    """Settings for a test service: quick checkpoints, quick fetches, any free port."""
    values: dict[str, Any] = {
        "store_id": STORE,
        "nats_url": nats_url,
        "checkpoint_interval_s": 0.5,
        "fetch_timeout_s": 0.2,
        "health_port": 0,
        "log_json": False,
    }
    values.update(overrides)
    return AnalyticsSettings(**values)


@asynccontextmanager
async def running_service(
    nats_url: str, seed: StoreAnalyticsConfig | None = None, **overrides: Any
) -> AsyncIterator[AnalyticsService]:
    service = AnalyticsService(
        settings(nats_url, **overrides),
        seed=seed,
        metrics=AnalyticsMetrics(CollectorRegistry()),
    )
    async with service:
        yield service


@asynccontextmanager
async def nats_client(url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(url)
    try:
        yield client
    finally:
        await client.close()


async def publish_detections(
    url: str, events: Sequence[DetectionsEvent], *, per_second: float | None = None
) -> int:
    """Publish in order, each acked by JetStream before the next (a store node's order);
    `per_second` paces them. Returns the stream's last sequence."""
    async with nats_client(url) as client:
        js = client.jetstream(timeout=10.0)
        await ensure_streams(js, DEFAULT_STREAMS)
        last = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, event in enumerate(events):
            if per_second is not None:
                delay = start + index / per_second - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            ack = await js.publish(
                subject_for(event), encode(event), headers={MSG_ID_HEADER: str(event.event_id)}
            )
            last = ack.seq
        return last


async def put_config(url: str, config: StoreAnalyticsConfig | bytes, store_id: str = STORE) -> None:
    """Write a store's ANALYTICS_CONFIG value (a configuration, or raw bytes as is)."""
    value = config if isinstance(config, bytes) else encode_analytics_config(config)
    async with nats_client(url) as client:
        kv = await ensure_bucket(client.jetstream(timeout=10.0), ANALYTICS_CONFIG_BUCKET)
        await kv.put(analytics_config_key(store_id), value)


async def analytics_events(url: str) -> list[AnalyticsEvent]:
    """Everything in the ANALYTICS stream, in stream order."""
    return [
        e for e in await stream_events(url, "ANALYTICS") if isinstance(e, ANALYTICS_EVENT_TYPES)
    ]


async def consumed(service: AnalyticsService, last_seq: int, timeout_s: float = 60) -> None:
    """Until the service has consumed up to `last_seq` and JetStream stored its events."""

    def done() -> bool:
        return service.stream_seq >= last_seq and service.publisher.pending == 0

    await eventually(done, timeout_s, message=f"the service to consume up to {last_seq}")


def health(port: int) -> dict[str, Any]:
    """A subprocess service's /health JSON (blocking)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body
