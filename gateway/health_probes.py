"""What /health and the `systemHealth` query report beyond the gateway itself: the health
of every part of the system, probed in the background.

    triton              the gateway's own Triton pool (process-frame): each endpoint's
                        server and pipeline model readiness
    node:<store>        each store node of `node_urls`: its /health (ready, cameras)
    identity            the store's identity service, over NATS (its `health` subject)
    analytics:<i>/<n>   each analytics partition of the store: its durable consumer on
                        DETECTIONS (lag), and its /health where `health.analytics_urls`
                        names it
    ingest              the ingest consumers (this process's or a separate ingest's): what
                        each stream's durable consumer has not stored yet, and how old the
                        oldest of it is, from JetStream consumer info

Each probe runs in a task of its own every `health.interval_s`, bounded by
`health.timeout_s`; a request only reads the last results, so /health stays cheap and
never waits on a dead peer. A probe that does not finish in time reports its part down.
Every part has a status (ok, degraded, down, unknown: not checked yet or nothing to check
against), a reason a person can act on, when it was checked, and details (the figures the
status was decided from). `trinetra_gateway_component_up{component}` is 1 for a part that
is ok or degraded, 0 for one that is down, absent while unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import httpx
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from gateway.config import GatewaySettings, HealthSettings
from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import DETECTIONS_FAMILY, SUBJECT_ROOT, subject_token
from trinetra.events.streams import DETECTIONS_STREAM
from trinetra.identity.client import IdentityServiceClient
from trinetra.identity.errors import IdentityServiceError
from trinetra.inference import VisionClient
from trinetra.vocabulary import CameraState

__all__ = ["ComponentHealth", "ComponentStatus", "HealthMonitor", "overall_status"]

log = logging.getLogger(__name__)

# An analytics partition's durable consumer name ends so (analytics/consumer.py).
_ANALYTICS_CONSUMER: Final = re.compile(r"-p(?P<index>\d+)-of-(?P<count>\d+)$")
# A probe's own calls get this share of the probe's timeout, so that a peer that does not
# answer is reported by the call that knows why (unreachable, no responders, ...), not
# only by the monitor's overall deadline.
_CALL_SHARE: Final = 0.8


class ComponentStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # works, but behind or partly
    DOWN = "down"
    UNKNOWN = "unknown"  # not checked yet, or nothing to check against


# Worst last: the system's status is its worst part's.
_SEVERITY: Final = {
    ComponentStatus.OK: 0,
    ComponentStatus.UNKNOWN: 1,
    ComponentStatus.DEGRADED: 2,
    ComponentStatus.DOWN: 3,
}


@dataclass(frozen=True)
class ComponentHealth:
    name: str  # "triton", "node:blr-01", "identity", "analytics:0/2", "ingest"
    kind: str  # triton, store_node, identity, analytics, ingest
    status: ComponentStatus
    reason: str
    checked_at: datetime | None
    store_id: str | None = None  # None: serves every store (triton, ingest)
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value,
            "reason": self.reason,
            "checked_at": None if self.checked_at is None else self.checked_at.isoformat(),
            "store_id": self.store_id,
            "details": dict(self.details),
        }


def overall_status(components: Sequence[ComponentHealth]) -> ComponentStatus:
    """The worst status among `components` (ok for none)."""
    return max(
        (c.status for c in components), key=_SEVERITY.__getitem__, default=ComponentStatus.OK
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Probe(ABC):
    """One part (or a family of parts, e.g. analytics partitions) of the system."""

    name: str
    kind: str
    store_id: str | None = None

    @abstractmethod
    async def check(self) -> list[ComponentHealth]:
        """The parts' health now; may raise (the part is then down with the error)."""

    def component(
        self,
        status: ComponentStatus,
        reason: str,
        details: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> ComponentHealth:
        return ComponentHealth(
            name=name or self.name,
            kind=self.kind,
            status=status,
            reason=reason,
            checked_at=_now(),
            store_id=self.store_id,
            details=details or {},
        )


class TritonProbe(Probe):
    name = kind = "triton"

    def __init__(self, vision: Callable[[], VisionClient | None], timeout_s: float) -> None:
        self._vision = vision
        self._timeout_s = timeout_s

    async def check(self) -> list[ComponentHealth]:
        vision = self._vision()
        if vision is None:
            return [self.component(ComponentStatus.UNKNOWN, "Triton client not started yet")]
        model = vision.settings.pipeline_model
        problems = await asyncio.gather(
            *(self._problem(endpoint.client, model) for endpoint in vision.pool.endpoints)
        )
        # Ready yet degraded: a recent call timed out or failed there (a slow GPU still
        # answers "ready"); the pool keeps it out for its cool-down (inference.endpoints).
        degraded = {
            s["url"]: s["retry_in_s"] or 0.0
            for s in vision.endpoint_status()
            if s["state"] == "degraded"
        }
        problems = [
            problem
            or (
                f"degraded: calls failed, retried in {degraded[endpoint.url]:.0f} s"
                if endpoint.url in degraded
                else None
            )
            for endpoint, problem in zip(vision.pool.endpoints, problems, strict=True)
        ]
        endpoints = {
            endpoint.url: problem or "ready"
            for endpoint, problem in zip(vision.pool.endpoints, problems, strict=True)
        }
        failing = [f"{url}: {state}" for url, state in endpoints.items() if state != "ready"]
        details = {"model": model, "endpoints": endpoints}
        if not failing:
            return [self.component(ComponentStatus.OK, f"{model} ready", details)]
        status = (
            ComponentStatus.DOWN if len(failing) == len(endpoints) else ComponentStatus.DEGRADED
        )
        return [self.component(status, "; ".join(failing), details)]

    async def _problem(self, client: InferenceServerClient, model: str) -> str | None:
        """What keeps one server from serving `model`, or None."""
        try:
            if not await client.is_server_ready(client_timeout=self._timeout_s):
                return "server not ready"
            if not await client.is_model_ready(model, client_timeout=self._timeout_s):
                return f"{model} not ready"
        except InferenceServerException as error:
            return f"unreachable ({_first_line(error.message() or str(error))})"
        return None


class NodeProbe(Probe):
    """A store node's /health: ready (Triton and NATS), and its cameras' states."""

    kind = "store_node"

    def __init__(self, store_id: str, url: str, http: httpx.AsyncClient) -> None:
        self.name = f"node:{store_id}"
        self.store_id = store_id
        self._url = f"{url.rstrip('/')}/health"
        self._http = http

    async def check(self) -> list[ComponentHealth]:
        try:
            response = await self._http.get(self._url)
        except httpx.HTTPError as error:
            return [self.component(ComponentStatus.DOWN, f"unreachable: {_http_error(error)}")]
        if response.status_code != 200:
            return [
                self.component(ComponentStatus.DOWN, f"/health answered {response.status_code}")
            ]
        body: dict[str, Any] = response.json()
        cameras = {
            str(camera): str(state.get("state", "unknown"))
            for camera, state in (body.get("cameras") or {}).items()
        }
        details = {
            "url": self._url,
            "ready": bool(body.get("ready")),
            "triton": body.get("triton"),
            "nats": body.get("nats"),
            "events_pending": body.get("events_pending"),
            "cameras": cameras,
        }
        if not body.get("ready"):
            missing = [part for part in ("triton", "nats") if body.get(part) is False]
            reason = f"not ready: {', '.join(missing)} down" if missing else "not ready"
            return [self.component(ComponentStatus.DOWN, reason, details)]
        not_live = [f"{c} {s}" for c, s in cameras.items() if s != CameraState.LIVE.value]
        if not_live:
            return [
                self.component(
                    ComponentStatus.DEGRADED, f"cameras not live: {', '.join(not_live)}", details
                )
            ]
        return [self.component(ComponentStatus.OK, f"ready, {len(cameras)} cameras live", details)]


class IdentityProbe(Probe):
    name = kind = "identity"

    def __init__(self, client: IdentityServiceClient, timeout_s: float) -> None:
        self.store_id = client.store_id
        self._client = client
        self._timeout_s = timeout_s

    async def check(self) -> list[ComponentHealth]:
        try:
            result = await self._client.health(self._timeout_s)
        except IdentityServiceError as error:
            return [self.component(ComponentStatus.DOWN, error.message)]
        details = result.model_dump()
        if not result.ready:
            return [self.component(ComponentStatus.DEGRADED, "not subscribed yet", details)]
        return [
            self.component(
                ComponentStatus.OK, f"ready, {result.active_identities} active identities", details
            )
        ]


class _JetStreamProbe(Probe):
    def __init__(self, connection: NatsConnection, timeout_s: float) -> None:
        self._connection = connection
        self._timeout_s = timeout_s

    def _jetstream(self) -> JetStreamContext | None:
        client = self._connection.client
        if client is None or not self._connection.connected:
            return None
        return client.jetstream(timeout=self._timeout_s)


def _outstanding(info: ConsumerInfo) -> int:
    """Messages the consumer has not had acknowledged: not delivered yet, or in flight."""
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


def _idle_s(info: ConsumerInfo, now: datetime) -> float | None:
    """Seconds since the consumer last delivered a message (None: never)."""
    last = info.delivered.last_active if info.delivered is not None else None
    return None if last is None else max(0.0, (now - last).total_seconds())


class IngestProbe(_JetStreamProbe):
    """Each ingest stream's durable consumer: outstanding messages, and the age of the
    oldest one not stored yet (the first message after the ack floor)."""

    name = kind = "ingest"

    def __init__(
        self,
        connection: NatsConnection,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
    ) -> None:
        super().__init__(connection, settings.health.timeout_s)
        self._ingest = settings.ingest
        self._health = settings.health
        self._metrics = metrics

    async def check(self) -> list[ComponentHealth]:
        js = self._jetstream()
        if js is None:
            return [self.component(ComponentStatus.DOWN, "gateway not connected to NATS")]
        now = _now()
        streams: dict[str, dict[str, Any] | None] = {}
        worst, reasons, total = ComponentStatus.OK, [], 0
        for stream in self._ingest.streams:
            durable = f"{self._ingest.durable_prefix}-{stream.lower()}"
            try:
                info = await js.consumer_info(stream, durable)
            except nats.js.errors.NotFoundError:
                streams[stream] = None  # no stream or consumer yet: nothing to lag behind
                continue
            outstanding = _outstanding(info)
            total += outstanding
            oldest_s = await self._oldest_unstored_s(js, stream, info, now) if outstanding else 0.0
            idle_s = _idle_s(info, now)
            streams[stream] = {
                "outstanding": outstanding,
                "pending": int(info.num_pending or 0),
                "ack_pending": int(info.num_ack_pending or 0),
                "oldest_unstored_s": oldest_s,
                "idle_s": None if idle_s is None else round(idle_s, 3),
            }
            self._metrics.ingest_outstanding.labels(stream).set(outstanding)
            if oldest_s is not None:  # None: unreadable now; keep the last figure
                self._metrics.ingest_oldest_unstored_seconds.labels(stream).set(oldest_s)
            status, reason = self._judge(stream, outstanding, oldest_s, idle_s)
            if status is not ComponentStatus.OK:
                reasons.append(reason)
                worst = max(worst, status, key=_SEVERITY.__getitem__)
        details = {"streams": streams}
        if all(s is None for s in streams.values()):
            return [self.component(ComponentStatus.UNKNOWN, "no ingest consumer yet", details)]
        reason = "; ".join(reasons) if reasons else f"{total} messages outstanding"
        return [self.component(worst, reason, details)]

    def _judge(
        self, stream: str, outstanding: int, oldest_s: float | None, idle_s: float | None
    ) -> tuple[ComponentStatus, str]:
        h = self._health
        if outstanding and (idle_s is None or idle_s > h.stalled_s):
            idle = "never" if idle_s is None else f"for {idle_s:.0f} s"
            return ComponentStatus.DOWN, f"{stream}: {outstanding} waiting, no delivery {idle}"
        if outstanding > h.ingest_lag_degraded or (oldest_s or 0.0) > h.ingest_age_degraded_s:
            age = "" if oldest_s is None else f", oldest {oldest_s:.0f} s old"
            return ComponentStatus.DEGRADED, f"{stream}: {outstanding} not stored{age}"
        return ComponentStatus.OK, ""

    async def _oldest_unstored_s(
        self, js: JetStreamContext, stream: str, info: ConsumerInfo, now: datetime
    ) -> float | None:
        """Age of the first stream message after the consumer's ack floor (by the time
        JetStream stored it); None when it cannot be read (removed by the stream's limits
        meanwhile, say)."""
        floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
        try:
            message = await js.get_msg(stream, floor + 1, subject=">", next=True)
        except nats.js.errors.NotFoundError:
            return None
        if message.time is None:
            return None
        return round(max(0.0, (now - message.time).total_seconds()), 3)


class AnalyticsProbe(_JetStreamProbe):
    """The store's analytics partitions: each one's durable consumer on DETECTIONS
    (found by its name and filter, so partitions need no configuration here) and, for
    the services `health.analytics_urls` names, their /health (ready, checkpoint)."""

    name = kind = "analytics"

    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        settings: HealthSettings,
        http: httpx.AsyncClient,
    ) -> None:
        super().__init__(connection, settings.timeout_s)
        self.store_id = store_id
        self._settings = settings
        self._http = http
        self._filter = f"{SUBJECT_ROOT}.{subject_token(store_id)}.*.{DETECTIONS_FAMILY}"
        # Which partition each configured service said it runs: one that stops answering
        # is reported as that partition, down.
        self._partition_at: dict[str, str] = {}

    async def check(self) -> list[ComponentHealth]:
        js = self._jetstream()
        if js is None:
            return [self.component(ComponentStatus.DOWN, "gateway not connected to NATS")]
        consumers = await self._consumers(js)
        answers = await asyncio.gather(
            *(self._service(url) for url in self._settings.analytics_urls)
        )
        services: dict[str, dict[str, Any] | str] = {}
        silent: list[tuple[str, str]] = []  # (url, why) of services never heard from
        for url, answer in zip(self._settings.analytics_urls, answers, strict=True):
            if isinstance(answer, dict):
                self._partition_at[url] = answer["partition"]
                services[answer["partition"]] = answer
            elif url in self._partition_at:
                services[self._partition_at[url]] = f"{url} {answer}"
            else:
                silent.append((url, answer))
        now = _now()
        components = [
            self._partition(partition, consumers.get(partition), services.get(partition), now)
            for partition in sorted(set(consumers) | set(services))
        ]
        # Which partition a service that never answered runs is unknown: down by its URL.
        components.extend(
            self.component(ComponentStatus.DOWN, why, {"url": url}, name=f"analytics:{url}")
            for url, why in silent
        )
        if not components:
            reason = f"no analytics consumer on {DETECTIONS_STREAM.name} for this store"
            return [self.component(ComponentStatus.UNKNOWN, reason)]
        return components

    async def _consumers(self, js: JetStreamContext) -> dict[str, ConsumerInfo]:
        """The store's partition consumers by partition ("0/2")."""
        try:
            infos = await js.consumers_info(DETECTIONS_STREAM.name)
        except nats.js.errors.NotFoundError:
            return {}
        found: dict[str, ConsumerInfo] = {}
        for info in infos:
            match = _ANALYTICS_CONSUMER.search(info.name)
            if match is not None and info.config.filter_subject == self._filter:
                found[f"{match['index']}/{match['count']}"] = info
        return found

    async def _service(self, url: str) -> dict[str, Any] | str:
        """The service's /health body (with its `partition`, "0/2"), or why it did not
        answer."""
        try:
            response = await self._http.get(f"{url.rstrip('/')}/health")
            body: dict[str, Any] = response.json()
            return {**body, "partition": str(body["partition"]), "url": url}
        except (httpx.HTTPError, ValueError, KeyError) as error:
            return f"unreachable: {_http_error(error)}"

    def _partition(
        self,
        partition: str,
        info: ConsumerInfo | None,
        service: dict[str, Any] | str | None,
        now: datetime,
    ) -> ComponentHealth:
        details: dict[str, Any] = {"partition": partition}
        name = f"analytics:{partition}"
        lag, idle_s = 0, None
        if info is not None:
            lag = int(info.num_pending or 0)
            idle_s = _idle_s(info, now)
            details.update(
                consumer=info.name,
                pending=lag,
                ack_pending=int(info.num_ack_pending or 0),
                idle_s=None if idle_s is None else round(idle_s, 3),
            )
        if isinstance(service, str):  # its service stopped answering
            return self.component(ComponentStatus.DOWN, service, details, name=name)
        if service is not None:
            details["service"] = service
            if not service.get("ready"):
                return self.component(ComponentStatus.DOWN, "not ready", details, name=name)
        elif info is not None and lag and (idle_s is None or idle_s > self._settings.stalled_s):
            # No /health to ask: a consumer that has work and delivers none has no reader.
            idle = "never" if idle_s is None else f"for {idle_s:.0f} s"
            reason = f"{lag} detections waiting, no delivery {idle}"
            return self.component(ComponentStatus.DOWN, reason, details, name=name)
        if info is None:
            reason = f"no consumer on {DETECTIONS_STREAM.name} yet"
            return self.component(ComponentStatus.DEGRADED, reason, details, name=name)
        if lag > self._settings.analytics_lag_degraded:
            reason = f"{lag} detections behind"
            return self.component(ComponentStatus.DEGRADED, reason, details, name=name)
        return self.component(ComponentStatus.OK, f"{lag} detections behind", details, name=name)


class HealthMonitor:
    """Runs every probe in the background and keeps its last results (module docs)."""

    def __init__(
        self,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        connection: NatsConnection,
        identity: IdentityServiceClient,
        vision: Callable[[], VisionClient | None],
    ) -> None:
        h = settings.health
        self._settings = h
        self._metrics = metrics
        call_timeout_s = h.timeout_s * _CALL_SHARE
        # trust_env=False: peers are reached directly, never through an HTTP(S)_PROXY.
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(call_timeout_s), trust_env=False)
        probes: list[Probe] = []
        if h.triton:
            probes.append(TritonProbe(vision, call_timeout_s))
        probes.extend(NodeProbe(s, url, self._http) for s, url in settings.node_urls.items())
        if h.identity:
            probes.append(IdentityProbe(identity, call_timeout_s))
        probes.append(AnalyticsProbe(connection, settings.store_id, h, self._http))
        probes.append(IngestProbe(connection, settings, metrics))
        self.probes = probes
        self._results: dict[str, list[ComponentHealth]] = {
            p.name: [
                ComponentHealth(
                    p.name, p.kind, ComponentStatus.UNKNOWN, "not checked yet", None, p.store_id
                )
            ]
            for p in probes
        }
        self._tasks: list[asyncio.Task[None]] = []

    def components(self) -> list[ComponentHealth]:
        """The last result of every part, in probe order."""
        return [c for probe in self.probes for c in self._results[probe.name]]

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(probe), name=f"health-{probe.name}")
                for probe in self.probes
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._http.aclose()

    async def check_once(self, probe: Probe) -> list[ComponentHealth]:
        """Probe once within the timeout; a failure or a timeout is the part down."""
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                return await probe.check()
        except TimeoutError:
            reason = f"no answer within {self._settings.timeout_s:g} s"
        except (nats.errors.Error, httpx.HTTPError, OSError, ValueError) as error:
            reason = f"probe failed: {type(error).__name__}: {error}"
        except Exception as error:
            log.exception("health probe failed", extra={"component": probe.name})
            reason = f"probe failed: {type(error).__name__}"
        return [probe.component(ComponentStatus.DOWN, reason)]

    async def _run(self, probe: Probe) -> None:
        while True:
            results = await self.check_once(probe)
            self._record(probe, results)
            await asyncio.sleep(self._settings.interval_s)

    def _record(self, probe: Probe, results: list[ComponentHealth]) -> None:
        gauge = self._metrics.component_up
        for gone in {c.name for c in self._results[probe.name]} - {c.name for c in results}:
            with contextlib.suppress(KeyError):
                gauge.remove(gone)
        for component in results:
            if component.status is ComponentStatus.UNKNOWN:
                with contextlib.suppress(KeyError):
                    gauge.remove(component.name)
            else:
                up = component.status is not ComponentStatus.DOWN
                gauge.labels(component.name).set(1 if up else 0)
        self._results[probe.name] = results


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no detail"


def _http_error(error: Exception) -> str:
    detail = str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
