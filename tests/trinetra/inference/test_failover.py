"""Several Triton endpoints: a primary tier past its deadline or killed falls back to
the secondary tier, within each one's own deadline; past its deadline it is degraded and
retried only after its cool-down, and once healthy it takes the traffic back. Load spread
while both serve, a kill -9 of one mid-stream costs no frame, traffic moves to the
survivor, the killed one rejoins after a restart, and with every server gone a call ends
in the error the store node already handles. No test lets a frame fail.

Two real CPU Tritons (each loads only the pipeline's models, to start faster), one per
module, started in parallel; the settings tests below need no server.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.support.media import media_bytes
from tests.support.metrics import read_metric
from tests.support.polling import eventually
from tests.support.triton_server import TEST_WORKDIR, LocalTriton
from trinetra.events.schema import DetectionsEvent
from trinetra.inference import InferenceUnavailableError, TritonSettings, VisionClient
from trinetra.inference.detections import FrameAnalysis
from trinetra.inference.endpoints import EndpointMetrics, failure_reason, server_fault
from trinetra.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InvalidInputError,
)
from trinetra.inference.settings import TritonEndpoint

PIPELINE_MODELS = ("person_detector", "face_detector", "face_embedder", "vision_pipeline")
# Light enough that a restarting Triton still gets the cores it needs to load its models.
WORKERS = 3
PAUSE_S = 0.05
# The tiers' own deadlines (the primary's far above a frame's latency on loaded cores,
# once the test lets it meet it) and the primary's cool-down once degraded.
PRIMARY_TIMEOUT_S = 5.0
SECONDARY_TIMEOUT_S = 30.0
COOLDOWN_S = 4.0


def _server() -> LocalTriton:
    return LocalTriton(
        workdir=TEST_WORKDIR,
        extra_args=[arg for model in PIPELINE_MODELS for arg in ("--model", model)],
    )


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LocalTriton, LocalTriton]]:
    first, second = _server(), _server()
    try:
        # Each takes 30-60 s on loaded cores: in parallel, that is paid once.
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(first.start), pool.submit(second.start)]:
                started.result()
        yield first, second
    finally:
        first.close()
        second.close()


@dataclass
class Stream:
    """A steady stream of real inference calls from a few concurrent callers."""

    client: VisionClient
    frame: bytes
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    # Answered frames per endpoint, and the latest answer of each.
    served: Counter[str] = field(default_factory=Counter)
    latest: dict[str, FrameAnalysis] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._caller()) for _ in range(WORKERS)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _caller(self) -> None:
        while not self._stop.is_set():
            try:
                result = await self.client.analyze(self.frame)
                assert (result.persons.confidence >= 0.25).sum() == 4
                assert result.endpoint is not None
                self.served[result.endpoint] += 1
                self.latest[result.endpoint] = result
                self.ok += 1
            except Exception as error:  # every failure is a lost frame: counted, shown
                self.failed.append(repr(error))
            await asyncio.sleep(PAUSE_S)


def requests(metrics: EndpointMetrics, server: LocalTriton) -> float:
    return read_metric(
        metrics.registry,
        "trinetra_inference_endpoint_requests_total",
        {"endpoint": server.grpc_url},
    )


def healthy(metrics: EndpointMetrics, server: LocalTriton) -> float:
    return read_metric(
        metrics.registry, "trinetra_inference_endpoint_healthy", {"endpoint": server.grpc_url}
    )


def down(metrics: EndpointMetrics, server: LocalTriton) -> bool:
    return healthy(metrics, server) == 0


def degraded(metrics: EndpointMetrics, server: LocalTriton) -> bool:
    gauge = "trinetra_inference_endpoint_degraded"
    return read_metric(metrics.registry, gauge, {"endpoint": server.grpc_url}) == 1


@pytest.fixture
async def tiered_client(
    servers: tuple[LocalTriton, LocalTriton],
) -> AsyncIterator[tuple[VisionClient, EndpointMetrics]]:
    """The first server as the primary tier (the GPU's place), the second as its
    fallback (the CPU's), each with its own deadline."""
    primary, secondary = servers
    metrics = EndpointMetrics()
    settings = TritonSettings.model_validate(
        {
            "endpoints": [
                {"url": primary.grpc_url, "priority": 0, "call_timeout_s": PRIMARY_TIMEOUT_S},
                {"url": secondary.grpc_url, "priority": 1, "call_timeout_s": SECONDARY_TIMEOUT_S},
            ],
            "retries": 0,  # only the fallback hop can save a frame
            "backoff_initial_s": 0.1,
            "backoff_max_s": 0.5,
            "health_interval_s": 0.5,
            "health_timeout_s": 1,
            "degraded_cooldown_s": COOLDOWN_S,
        }
    )
    async with VisionClient(settings, metrics=metrics) as client:
        for endpoint in client.pool.endpoints:
            await eventually(
                functools.partial(client.pool.check, endpoint), 60, message=endpoint.url
            )
        yield client, metrics


def _check_results_name_what_produced_them(stream: Stream, endpoint: LocalTriton) -> None:
    """A result the `endpoint` answered names it and every model's version, and so does
    the event built from it."""
    result = stream.latest[endpoint.grpc_url]
    assert result.model_versions == {
        "vision_pipeline": "1",
        "person_detector": "1",
        "face_detector": "1",
        "face_embedder": "1",
    }
    event = DetectionsEvent.from_analysis(
        result, camera_id="cam-1", store_id="store-1", frame_seq=1, occurred_at=datetime.now(UTC)
    )
    assert (event.endpoint, event.model_versions) == (endpoint.grpc_url, result.model_versions)


async def test_a_primary_past_its_deadline_falls_back_and_is_retried_after_its_cooldown(
    servers: tuple[LocalTriton, LocalTriton], tiered_client: tuple[VisionClient, EndpointMetrics]
) -> None:
    """A GPU that answers, but later than its deadline: here a deadline no frame can meet
    (SIGSTOP of a server would be closer to a hung GPU, but the python backend aborts
    when it resumes)."""
    primary, secondary = servers
    client, metrics = tiered_client
    first = client.pool.endpoints[0]
    assert first.url == primary.grpc_url
    first.call_timeout_s = 0.001
    stream = Stream(client, media_bytes("bus.jpg"))
    stream.start()
    try:
        # Its first call passes the deadline: degraded, and that frame and the next ones
        # are answered by the secondary, within its own deadline.
        await eventually(
            functools.partial(degraded, metrics, primary), 30, message="the primary degraded"
        )
        degraded_at = time.monotonic()
        sent_to_primary = requests(metrics, primary)
        on_secondary = stream.served[secondary.grpc_url]
        await asyncio.sleep(max(degraded_at + COOLDOWN_S - 0.5 - time.monotonic(), 0))
        assert degraded(metrics, primary), "the primary came back before its cool-down"
        assert requests(metrics, primary) == sent_to_primary, "the primary was used cooling"
        assert stream.served[secondary.grpc_url] >= on_secondary + 3, stream.served
        assert stream.served[primary.grpc_url] == 0

        # After the cool-down a passing check lets it try again: still too slow, so
        # degraded again, and no frame lost on the way.
        await eventually(
            lambda: requests(metrics, primary) > sent_to_primary,
            COOLDOWN_S + 10,
            message="the primary retried after its cool-down",
        )
        retried_s = time.monotonic() - degraded_at
        await eventually(
            functools.partial(degraded, metrics, primary), 10, message="degraded again"
        )

        # Fast enough again (a recovered GPU meets its deadline): healthy after the
        # cool-down, and the primary tier takes the frames back.
        first.call_timeout_s = PRIMARY_TIMEOUT_S
        await eventually(
            lambda: stream.served[primary.grpc_url] >= 10,
            COOLDOWN_S + 60,
            message="10 frames through the primary again",
        )
    finally:
        await stream.stop()
    assert stream.failed == []
    timeouts = read_metric(
        metrics.registry,
        "trinetra_inference_endpoint_failures_total",
        {"endpoint": primary.grpc_url, "reason": "timeout"},
    )
    assert timeouts >= 2
    _check_results_name_what_produced_them(stream, secondary)
    _check_results_name_what_produced_them(stream, primary)
    states = {s["url"]: s["state"] for s in client.endpoint_status()}
    assert states == {primary.grpc_url: "healthy", secondary.grpc_url: "healthy"}
    print(
        f"\nfallback on deadline: {stream.ok} frames, 0 failed; {dict(stream.served)}; "
        f"{timeouts:.0f} calls past the primary's deadline fell back; retried "
        f"{retried_s:.1f} s after it was degraded (cool-down {COOLDOWN_S:g} s)"
    )


async def test_a_killed_primary_falls_back_and_takes_the_traffic_back(
    servers: tuple[LocalTriton, LocalTriton], tiered_client: tuple[VisionClient, EndpointMetrics]
) -> None:
    primary, secondary = servers
    client, metrics = tiered_client
    stream = Stream(client, media_bytes("bus.jpg"))
    stream.start()
    try:
        # Both healthy: the primary tier takes every frame.
        await eventually(lambda: stream.ok >= 10, 120, message="10 frames through the primary")
        assert stream.served[secondary.grpc_url] == 0, stream.served

        # kill -9: the calls it held fall back, the next frames go to the secondary.
        await asyncio.to_thread(primary.kill)
        await eventually(
            functools.partial(down, metrics, primary), 10, message="the primary marked down"
        )
        on_secondary = stream.served[secondary.grpc_url]
        await eventually(
            lambda: stream.served[secondary.grpc_url] >= on_secondary + 10,
            120,
            message="10 frames through the secondary",
        )
        assert stream.failed == []

        # Back (unreachable is no degradation: no cool-down), it takes the frames back.
        await asyncio.to_thread(primary.start)
        on_primary = stream.served[primary.grpc_url]
        await eventually(
            lambda: stream.served[primary.grpc_url] >= on_primary + 10,
            120,
            message="10 frames through the restarted primary",
        )
    finally:
        await stream.stop()
    assert stream.failed == []
    _check_results_name_what_produced_them(stream, secondary)
    print(f"\nfallback on kill: {stream.ok} frames, 0 failed; {dict(stream.served)}")


@pytest.fixture
async def pool_client(
    servers: tuple[LocalTriton, LocalTriton],
) -> AsyncIterator[tuple[VisionClient, EndpointMetrics]]:
    metrics = EndpointMetrics()
    settings = TritonSettings(
        endpoints=[s.grpc_url for s in servers],
        call_timeout_s=30,
        # No backoff retries: only the immediate failover hop can save a frame.
        retries=0,
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
        health_interval_s=0.5,
        health_timeout_s=2,
    )
    async with VisionClient(settings, metrics=metrics) as client:
        for endpoint in client.pool.endpoints:
            await eventually(
                functools.partial(client.pool.check, endpoint), 60, message=endpoint.url
            )
        yield client, metrics


async def test_spread_failover_on_kill_and_rejoin(
    servers: tuple[LocalTriton, LocalTriton], pool_client: tuple[VisionClient, EndpointMetrics]
) -> None:
    victim, survivor = servers
    client, metrics = pool_client
    stream = Stream(client, media_bytes("bus.jpg"))
    stream.start()
    try:
        # Both serve: each gets a fair share of the calls.
        await eventually(lambda: stream.ok >= 20, 120, message="20 frames through the pool")
        spread = (requests(metrics, victim), requests(metrics, survivor))
        assert min(spread) >= 0.25 * sum(spread), f"requests per endpoint: {spread}"

        # kill -9 mid-stream: the calls it held fail over, so no frame fails.
        ok_at_kill = stream.ok
        await asyncio.to_thread(victim.kill)
        await eventually(
            functools.partial(down, metrics, victim), 10, message="the killed endpoint marked down"
        )
        # A health check answered just before the kill may still land after the
        # failure: past two check periods the pool's view is settled.
        await asyncio.sleep(1.0)
        sent_to_victim = requests(metrics, victim)
        await eventually(
            lambda: stream.ok >= ok_at_kill + 20, 120, message="20 frames after the kill"
        )
        assert stream.failed == []
        assert requests(metrics, victim) == sent_to_victim, "traffic still sent to a dead server"

        # Back on the same port: its health check passes and it takes requests again.
        killed_at = time.monotonic()
        await asyncio.to_thread(victim.start)
        await eventually(
            lambda: healthy(metrics, victim) == 1, 30, message="the restarted endpoint healthy"
        )
        rejoined_s = time.monotonic() - killed_at
        await eventually(
            lambda: requests(metrics, victim) >= sent_to_victim + 5,
            60,
            message="requests to the rejoined endpoint",
        )
    finally:
        await stream.stop()
    assert stream.failed == []
    failures = read_metric(
        metrics.registry,
        "trinetra_inference_endpoint_failures_total",
        {"endpoint": victim.grpc_url, "reason": "unavailable"},
    )
    print(
        f"\nfailover: {stream.ok} frames, 0 failed; spread while both up {spread}; "
        f"{failures:.0f} calls failed on the killed server and were retried; "
        f"restart to healthy again {rejoined_s:.1f} s"
    )


async def test_every_server_down_ends_in_unavailable(
    servers: tuple[LocalTriton, LocalTriton], pool_client: tuple[VisionClient, EndpointMetrics]
) -> None:
    """The store node counts this error as a dropped frame (reason inference) and keeps
    going: the pool must end in it, within its retries, not hang."""
    client, metrics = pool_client
    frame = media_bytes("bus.jpg")
    await client.analyze(frame)
    for server in servers:
        await asyncio.to_thread(server.kill)
    started = time.monotonic()
    with pytest.raises(InferenceUnavailableError):
        await client.analyze(frame)
    assert time.monotonic() - started < 15
    for server in servers:
        await eventually(functools.partial(down, metrics, server), 10, message="marked down")


# --- settings (no server) -------------------------------------------------------------


def test_one_url_is_a_pool_of_one() -> None:
    assert [e.url for e in TritonSettings(url="10.0.0.7:8001").pool] == ["10.0.0.7:8001"]


def test_endpoints_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.config.node import NodeSettings

    monkeypatch.setenv(
        "TRINETRA_TRITON__ENDPOINTS",
        '["10.0.0.7:8001", {"url": "10.0.0.9:8001", "priority": 1, "call_timeout_s": 30}]',
    )
    pool = NodeSettings().triton.pool
    assert pool == [
        TritonEndpoint(url="10.0.0.7:8001"),
        TritonEndpoint(url="10.0.0.9:8001", priority=1, call_timeout_s=30),
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "a:1", "endpoints": ["b:1"]}, "set triton.url or triton.endpoints, not both"),
        ({"endpoints": ["b:1", "b:1"]}, "lists b:1 more than once"),
        ({"endpoints": [f"h{i}:1" for i in range(17)]}, "at most 16"),
        ({"endpoints": [{"url": "b:1", "weight": 2}]}, "weight"),
        ({"degraded_cooldown_s": 0}, "greater than 0"),
    ],
)
def test_bad_endpoint_lists_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TritonSettings.model_validate(fields)


@pytest.mark.parametrize(
    ("error", "falls_back", "reason"),
    [
        (InferenceUnavailableError("failed to connect"), True, "unavailable"),
        (InferenceTimeoutError("Deadline Exceeded"), True, "timeout"),
        (InferenceError("person_detector failed: CUDA error"), True, "error"),
        # The frame's own fault: another server would refuse it too.
        (InvalidInputError("undecodable image"), False, None),
    ],
)
def test_which_failures_fall_back(
    error: InferenceError, falls_back: bool, reason: str | None
) -> None:
    assert server_fault(error) is falls_back
    if reason is not None:
        assert failure_reason(error) == reason
