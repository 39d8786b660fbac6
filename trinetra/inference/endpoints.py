"""A pool of Triton endpoints: health-checked, load spread, failed over, fallen back.

- **Health**: a background task asks every endpoint, every `health_interval_s`, whether
  the server and the pipeline model are ready (with --strict-readiness, the server is
  ready only once every model it loads has run its warm-up: perf/README.md, "Warm-up"),
  and which model versions it serves; requests never wait for a check. An endpoint is
  `healthy`, `down` or `degraded`:
  - **down**: a call failed because the server is unreachable or not ready (or a check
    failed); the next passing check brings it back, since a check sees exactly that.
  - **degraded**: a call timed out or failed with the server's own error (not the
    input's). A check cannot see that (a stalled GPU still answers "ready"), so the
    endpoint is left out for `degraded_cooldown_s`; after that, the next passing check
    brings it back, and a new failure starts a new cool-down.
- **Spreading**: least outstanding requests among the healthy endpoints of the lowest
  priority tier, ties taken in turn. The micro-batcher fires bursts of up to 8 frames at
  once, and servers differ (a GPU and a CPU, or one busy with another node): counting
  what each still holds sends more to the one that answers faster, which round robin
  cannot; the turn keeps equal servers alternating instead of the first taking every tie.
- **Failover and fallback**: a request whose endpoint fails (unavailable, deadline, or a
  server error) is retried at once, once, on another healthy endpoint (inference is
  idempotent), under that endpoint's own deadline (`call_timeout_s` per endpoint). So a
  GPU tier (priority 0, e.g. 5 s) falls back to a CPU tier (priority 1, e.g. 10 s) for
  the frame that failed and, while the GPU is degraded or down, for every frame; the
  GPU takes the traffic back once it is healthy again. After that hop, and whenever no
  endpoint is healthy, the client's own backoff retries apply (trinetra.retry), on any
  endpoint, so a single server behaves as it did before pools existed and an outage of
  every server ends in InferenceUnavailableError, which the caller already handles.
  There is no cloud tier (the design's third step): a store's frames and faces do not
  leave its site, and no cloud inference service is reachable from here; a further
  Triton endpoint with a higher priority is the way to add one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict, TypeVar

import tritonclient.grpc.aio as grpcclient
from prometheus_client import CollectorRegistry, Counter, Gauge
from tritonclient.utils import InferenceServerException

from trinetra.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
)
from trinetra.inference.settings import TritonSettings
from trinetra.retry import Backoff, OnRetry, retry

__all__ = ["Endpoint", "EndpointMetrics", "EndpointPool", "EndpointState", "EndpointStatus"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def server_fault(error: BaseException) -> bool:
    """True for the errors that say "this server, now", not "this input": unreachable or
    not ready, past the deadline, or the server's own failure. Worth another endpoint."""
    return isinstance(error, InferenceError) and not isinstance(error, InvalidInputError)


def failure_reason(error: InferenceError) -> str:
    """The `reason` label of a failure: unavailable, timeout or error."""
    if isinstance(error, InferenceUnavailableError):
        return "unavailable"
    return "timeout" if isinstance(error, InferenceTimeoutError) else "error"


class EndpointState(StrEnum):
    """What the pool knows of an endpoint (module docs)."""

    HEALTHY = "healthy"
    DOWN = "down"
    DEGRADED = "degraded"


class EndpointStatus(TypedDict):
    """One endpoint as a health report shows it."""

    url: str
    priority: int
    state: str
    # Seconds left of a degraded endpoint's cool-down; None unless degraded.
    retry_in_s: float | None
    outstanding: int
    versions: dict[str, str]


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
            "model not ready: marks it down), timeout (deadline exceeded) or error (the "
            "server's own failure): these two mark it degraded.",
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
        self.degraded = Gauge(
            "trinetra_inference_endpoint_degraded",
            "1 while the endpoint is left out after a timeout or server error, until its "
            "cool-down is over and a health check passes, else 0.",
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
    state: EndpointState = EndpointState.HEALTHY
    # time.monotonic() at which a degraded endpoint's cool-down ends.
    degraded_until: float = 0.0
    outstanding: int = 0
    # Model -> the newest version the server has ready (what an unpinned call runs),
    # as of the last passing health check.
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.state is EndpointState.HEALTHY

    def cooling(self, now: float) -> bool:
        return self.state is EndpointState.DEGRADED and now < self.degraded_until


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
            self._set_state(endpoint, EndpointState.HEALTHY)
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
        """One health check of `endpoint`; marks it up or down (a degraded one stays out
        until its cool-down is over) and returns whether it takes requests now."""
        ready = await self.is_ready(
            endpoint, self.settings.pipeline_model, self.settings.health_timeout_s
        )
        if ready:
            await self.learn_versions(endpoint)
        if endpoint.cooling(time.monotonic()):
            return False
        if ready and not endpoint.healthy:
            log.info("triton endpoint healthy again", extra={"endpoint": endpoint.url})
        elif not ready and endpoint.healthy:
            log.warning("triton endpoint failed its health check", extra={"endpoint": endpoint.url})
        self._set_state(endpoint, EndpointState.HEALTHY if ready else EndpointState.DOWN)
        return ready

    async def learn_versions(self, endpoint: Endpoint) -> None:
        """The newest ready version of each model `endpoint` serves (kept as it was when
        the server does not answer: versions change only on a reload)."""
        try:
            index = await endpoint.client.get_model_repository_index(
                as_json=True, client_timeout=self.settings.health_timeout_s
            )
        except InferenceServerException:
            return
        newest: dict[str, int] = {}
        for model in index.get("models", []):
            version = str(model.get("version", ""))
            if model.get("state") == "READY" and version.isdigit():
                name = str(model["name"])
                newest[name] = max(newest.get(name, 0), int(version))
        endpoint.versions = {name: str(version) for name, version in newest.items()}

    def status(self) -> list[EndpointStatus]:
        """Every endpoint's state, for a health report (the node's /health)."""
        now = time.monotonic()
        return [
            EndpointStatus(
                url=e.url,
                priority=e.priority,
                state=e.state.value,
                retry_in_s=round(max(e.degraded_until - now, 0.0), 1)
                if e.state is EndpointState.DEGRADED
                else None,
                outstanding=e.outstanding,
                versions=dict(e.versions),
            )
            for e in self.endpoints
        ]

    async def _watch(self) -> None:
        while True:
            await asyncio.gather(*(self.check(endpoint) for endpoint in self.endpoints))
            await asyncio.sleep(self.settings.health_interval_s)

    def _set_state(self, endpoint: Endpoint, state: EndpointState) -> None:
        endpoint.state = state
        self.metrics.healthy.labels(endpoint=endpoint.url).set(
            1 if state is EndpointState.HEALTHY else 0
        )
        self.metrics.degraded.labels(endpoint=endpoint.url).set(
            1 if state is EndpointState.DEGRADED else 0
        )

    def _failed(self, endpoint: Endpoint, error: InferenceError) -> None:
        reason = failure_reason(error)
        self.metrics.failures.labels(endpoint=endpoint.url, reason=reason).inc()
        now = time.monotonic()
        if reason == "unavailable":
            if endpoint.cooling(now):
                return  # still degraded: being away as well does not shorten that
            if endpoint.healthy:
                log.warning(
                    "triton endpoint marked down",
                    extra={"endpoint": endpoint.url, "reason": reason, "error": str(error)},
                )
            self._set_state(endpoint, EndpointState.DOWN)
            return
        cooldown_s = self.settings.degraded_cooldown_s
        if not endpoint.cooling(now):
            log.warning(
                "triton endpoint degraded; retried after its cool-down",
                extra={
                    "endpoint": endpoint.url,
                    "reason": reason,
                    "retry_in_s": cooldown_s,
                    "error": str(error),
                },
            )
        endpoint.degraded_until = now + cooldown_s
        self._set_state(endpoint, EndpointState.DEGRADED)

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
            except InferenceError as error:
                if not server_fault(error) or failed_over or not self.healthy([endpoint]):
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
        """`_send`, marking the endpoint down or degraded when it fails on its own."""
        try:
            return await self._send(endpoint, request)
        except InferenceError as error:
            if server_fault(error):
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
