"""Push mode's long-lived parts, built and started by the gateway (runtime.py)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import GatewaySettings
from gateway.metrics import GatewayMetrics
from gateway.push.dedup import FrameDedup
from gateway.push.jobs import JobStore
from gateway.push.service import PushProcessor
from gateway.push.worker import JobWorker
from trinetra.events.connection import NatsConnection
from trinetra.inference import VisionClient

__all__ = ["PushMode"]


class PushMode:
    def __init__(
        self,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        nats: NatsConnection,
        vision: Callable[[], VisionClient | None],
    ) -> None:
        push = settings.push
        self.settings = push
        self.processor = PushProcessor(push, metrics, vision, settings.triton.pipeline_model)
        self.dedup = FrameDedup(nats, push.dedup_window_s)
        self.jobs = JobStore(nats, push.job_ttl_s)
        self.worker = (
            JobWorker(
                nats,
                settings.store_id,
                settings.ingest.durable_prefix,
                push,
                self.jobs,
                self.processor,
                self.dedup,
                metrics,
            )
            if push.worker
            else None
        )

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
