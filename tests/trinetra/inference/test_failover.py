"""Several Triton endpoints: load spread while both serve, a kill -9 of one mid-stream
costs no frame, traffic moves to the survivor, the killed one rejoins after a restart,
and with every server gone a call ends in the error the store node already handles.

Two real CPU Tritons (each loads only the pipeline's models, to start faster), one per
module, started in parallel; the settings tests below need no server.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from tests.support.media import media_bytes
from tests.support.metrics import read_metric
from tests.support.polling import eventually
from tests.support.triton_server import TEST_WORKDIR, LocalTriton
from trinetra.inference import InferenceUnavailableError, TritonSettings, VisionClient
from trinetra.inference.endpoints import EndpointMetrics
from trinetra.inference.settings import TritonEndpoint

PIPELINE_MODELS = ("person_detector", "face_detector", "face_embedder", "vision_pipeline")
# Light enough that a restarting Triton still gets the cores it needs to load its models.
WORKERS = 3
PAUSE_S = 0.05


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
    ],
)
def test_bad_endpoint_lists_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TritonSettings.model_validate(fields)
