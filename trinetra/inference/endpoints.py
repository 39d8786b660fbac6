"""A pool of Triton endpoints: health-checked, load spread, failed over.

- **Health**: a background task asks every endpoint, every `health_interval_s`, whether
  the server and the pipeline model are ready; requests never wait for a check. A request
  that fails on a transport error (unreachable, not ready, deadline) marks its endpoint
  down at once; only a passing check brings it back.
- **Spreading**: least outstanding requests among the healthy endpoints of the lowest
  priority tier, ties taken in turn. The micro-batcher fires bursts of up to 8 frames at
  once, and servers differ (a GPU and a CPU, or one busy with another node): counting
  what each still holds sends more to the one that answers faster, which round robin
  cannot; the turn keeps equal servers alternating instead of the first taking every tie.
- **Failover**: a request whose endpoint fails on a transport error is retried at once,
  once, on another healthy endpoint (inference is idempotent). After that, and whenever
  no endpoint is healthy, the client's own backoff retries apply (trinetra.retry), on
  any endpoint, so a single server behaves as it did before pools existed and an outage
  of every server ends in InferenceUnavailableError, which the caller already handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import tritonclient.grpc.aio as grpcclient
from prometheus_client import CollectorRegistry, Counter, Gauge
from tritonclient.utils import InferenceServerException

from trinetra.inference.errors import InferenceTimeoutError, InferenceUnavailableError
from trinetra.inference.settings import TritonSettings
from trinetra.retry import Backoff, OnRetry, retry

__all__ = ["Endpoint", "EndpointMetrics", "EndpointPool"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# The errors that say "this server, now", not "this input": worth another endpoint.
TRANSPORT_ERRORS = (InferenceUnavailableError, InferenceTimeoutError)


class EndpointMetrics:
    """Per-endpoint inference metrics, registered on `registry` (a fresh one when omitted);
    the store node puts them on its own registry (orchestrator.metrics). The `endpoint`
    label is a configured host:port, so its cardinality is the pool's size."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "trinetra_inference_endpoint_requests",
            "Inference calls sent to a Triton endpoint (each try counts, failover included).",
            ["endpoint"],
            registry=r,
        )
        self.failures = Counter(
            "trinetra_inference_endpoint_failures",
            "Inference calls that failed on a Triton endpoint: unavailable (unreachable or "
            "model not ready) or timeout (deadline exceeded). Each marks the endpoint down.",
            ["endpoint", "reason"],
            registry=r,
        )
        self.failovers = Counter(
            "trinetra_inference_failovers",
            "Calls retried at once on another healthy endpoint after this one failed.",
            ["endpoint"],
            registry=r,
        )
        self.healthy = Gauge(
            "trinetra_inference_endpoint_healthy",
            "1 while the endpoint takes requests (last health check passed, no failure "
            "since), else 0.",
            ["endpoint"],
            registry=r,
        )
        self.outstanding = Gauge(
            "trinetra_inference_endpoint_outstanding",
            "Calls sent to the endpoint and not answered yet.",
            ["endpoint"],
            registry=r,
        )


@dataclass(eq=False)
class Endpoint:
    """One server of the pool and what the pool knows about it."""

    url: str
    priority: int
    call_timeout_s: float
    client: grpcclient.InferenceServerClient
    # Trusted until the first check or failure says otherwise, so the first frames of a
    # starting node are not refused while its first health check is still on the way.
    healthy: bool = True
    outstanding: int = 0


class EndpointPool:
    """The endpoints of `settings.pool` (module docs for the policy)."""

    def __init__(
        self,
        settings: TritonSettings,
        *,
        channel_args: Sequence[tuple[str, int]],
        metrics: EndpointMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else EndpointMetrics()
        self.endpoints = [
            Endpoint(
                url=entry.url,
                priority=entry.priority,
                call_timeout_s=entry.call_timeout_s or settings.call_timeout_s,
                client=grpcclient.InferenceServerClient(entry.url, channel_args=list(channel_args)),
            )
            for entry in settings.pool
        ]
        for endpoint in self.endpoints:
            self.metrics.healthy.labels(endpoint=endpoint.url).set(1)
        self._turn = itertools.count()
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self._monitor: asyncio.Task[None] | None = None

    @property
    def urls(self) -> str:
        return ", ".join(endpoint.url for endpoint in self.endpoints)

    # --- health ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the health checks (idempotent; needs the running loop, so the first call
        of any request starts them)."""
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(
                self._watch(), name="triton-health"
            )

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        for endpoint in self.endpoints:
            await endpoint.client.close()

    async def is_ready(self, endpoint: Endpoint, model: str, timeout_s: float) -> bool:
        """True when `endpoint`'s server and `model` answer ready within `timeout_s`."""
        try:
            server = await endpoint.client.is_server_ready(client_timeout=timeout_s)
            return bool(server) and bool(
                await endpoint.client.is_model_ready(model, client_timeout=timeout_s)
            )
        except InferenceServerException:
            return False

    async def check(self, endpoint: Endpoint) -> bool:
        """One health check of `endpoint`; marks it up or down and returns the verdict."""
        ready = await self.is_ready(
            endpoint, self.settings.pipeline_model, self.settings.health_timeout_s
        )
        if ready and not endpoint.healthy:
            log.info("triton endpoint healthy again", extra={"endpoint": endpoint.url})
        elif not ready and endpoint.healthy:
            log.warning("triton endpoint failed its health check", extra={"endpoint": endpoint.url})
        self._set_health(endpoint, ready)
        return ready

    async def _watch(self) -> None:
        while True:
            await asyncio.gather(*(self.check(endpoint) for endpoint in self.endpoints))
            await asyncio.sleep(self.settings.health_interval_s)

    def _set_health(self, endpoint: Endpoint, healthy: bool) -> None:
        endpoint.healthy = healthy
        self.metrics.healthy.labels(endpoint=endpoint.url).set(1 if healthy else 0)

    def _failed(self, endpoint: Endpoint, error: Exception) -> None:
        reason = "timeout" if isinstance(error, InferenceTimeoutError) else "unavailable"
        self.metrics.failures.labels(endpoint=endpoint.url, reason=reason).inc()
        if endpoint.healthy:
            log.warning(
                "triton endpoint marked down",
                extra={"endpoint": endpoint.url, "reason": reason, "error": str(error)},
            )
        self._set_health(endpoint, False)

    # --- choosing ---------------------------------------------------------------------------

    def healthy(self, exclude: Sequence[Endpoint] = ()) -> list[Endpoint]:
        return [e for e in self.endpoints if e.healthy and e not in exclude]

    def choose(self, exclude: Sequence[Endpoint] = ()) -> Endpoint:
        """The endpoint for the next request: healthy ones first (outside `exclude` if
        any), else any, so a pool with nobody healthy still tries (the server may be back
        before its check says so)."""
        candidates = (
            self.healthy(exclude)
            or self.healthy()
            or [e for e in self.endpoints if e not in exclude]
            or self.endpoints
        )
        start = next(self._turn) % len(candidates)
        rotated = candidates[start:] + candidates[:start]
        return min(rotated, key=lambda e: (e.priority, e.outstanding))

    # --- calling ----------------------------------------------------------------------------

    async def call(
        self, request: Callable[[Endpoint], Awaitable[T]], *, on_retry: OnRetry | None = None
    ) -> T:
        """`request(endpoint)` on a chosen endpoint, failed over and retried (module docs).
        `request` raises the classified errors of trinetra.inference.errors."""
        self.start()
        failed_over = False

        async def attempt() -> T:
            nonlocal failed_over
            endpoint = self.choose()
            try:
                return await self._tried(endpoint, request)
            except TRANSPORT_ERRORS:
                if failed_over or not self.healthy(exclude=[endpoint]):
                    raise
            failed_over = True
            self.metrics.failovers.labels(endpoint=endpoint.url).inc()
            return await self._tried(self.choose(exclude=[endpoint]), request)

        # A deadline is not retried with backoff: the frame is already late (as before
        # pools existed); only its one failover hop is.
        return await retry(
            attempt,
            backoff=self._backoff,
            retry_if=lambda error: isinstance(error, InferenceUnavailableError),
            attempts=self.settings.retries + 1,
            on_retry=on_retry,
        )

    async def call_each(self, request: Callable[[Endpoint], Awaitable[T]]) -> list[T]:
        """`request` on every endpoint in turn, each retried with backoff while it is
        unavailable (a start-up check that every server is right, not a load path)."""
        results = []
        for endpoint in self.endpoints:
            results.append(
                await retry(
                    functools.partial(self._send, endpoint, request),
                    backoff=self._backoff,
                    retry_if=lambda error: isinstance(error, InferenceUnavailableError),
                    attempts=self.settings.retries + 1,
                )
            )
        return results

    async def _tried(self, endpoint: Endpoint, request: Callable[[Endpoint], Awaitable[T]]) -> T:
        """`_send`, marking the endpoint down when it fails on a transport error."""
        try:
            return await self._send(endpoint, request)
        except TRANSPORT_ERRORS as error:
            self._failed(endpoint, error)
            raise

    async def _send(self, endpoint: Endpoint, request: Callable[[Endpoint], Awaitable[T]]) -> T:
        self.metrics.requests.labels(endpoint=endpoint.url).inc()
        endpoint.outstanding += 1
        self.metrics.outstanding.labels(endpoint=endpoint.url).set(endpoint.outstanding)
        try:
            return await request(endpoint)
        finally:
            endpoint.outstanding -= 1
            self.metrics.outstanding.labels(endpoint=endpoint.url).set(endpoint.outstanding)
