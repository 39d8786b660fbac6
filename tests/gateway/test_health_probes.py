"""The system health of /health and `systemHealth` (gateway/health_probes.py) against the
real parts: the identity service, a store node and an analytics partition each as its own
process (killed with SIGKILL), the session's Triton and an unreachable one, and the
ingest consumers' lag from JetStream consumer info while ingest is stopped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import HealthSettings
from gateway.health_probes import ComponentStatus, TritonProbe
from tests.faults.chain import ANALYTICS_SEED, AnalyticsProcess, IdentityProcess, NodeProcess
from tests.gateway.helpers import (
    STORE,
    RunningGateway,
    detections,
    running_gateway,
    settings,
    wait_schema,
)
from tests.support.media import media_path
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer, free_port
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.publisher import EventPublisher
from trinetra.inference import TritonSettings, VisionClient
from trinetra.settings import load_yaml

pytestmark = pytest.mark.timeout(240)

# Short probe timings, so that a change shows within a second or two.
INTERVAL_S = 0.3
TIMEOUT_S = 1.0
# A change must show within one interval plus one probe's timeout; the rest is the
# polling of the test and a loaded machine's scheduling.
SHOWS_WITHIN_S = INTERVAL_S + TIMEOUT_S + 1.5


def health_settings(**overrides: Any) -> HealthSettings:
    """Probe only what a test names (Triton and identity are on by default)."""
    values: dict[str, Any] = {
        "interval_s": INTERVAL_S,
        "timeout_s": TIMEOUT_S,
        "triton": False,
        "identity": False,
    }
    return HealthSettings.model_validate({**values, **overrides})


@pytest.fixture
async def started() -> AsyncIterator[list[Any]]:
    """Processes a test starts; each is closed (killed if need be) after it."""
    processes: list[Any] = []
    yield processes
    for process in reversed(processes):
        await asyncio.to_thread(process.close)


async def start(processes: list[Any], process: Any) -> Any:
    processes.append(process)
    await asyncio.to_thread(process.start)
    return process


async def component(gw: RunningGateway, name: str) -> dict[str, Any] | None:
    """The named component of /health, or None while it is not listed."""
    body = (await gw.http.get("/health")).json()
    assert body["status"] == "ok", body  # the gateway itself answers whatever the rest does
    return next((c for c in body["components"] if c["name"] == name), None)


async def status_becomes(
    gw: RunningGateway, name: str, status: ComponentStatus, timeout_s: float = 30
) -> dict[str, Any]:
    async def seen() -> dict[str, Any] | None:
        found = await component(gw, name)
        return found if found is not None and found["status"] == status.value else None

    return await eventually(seen, timeout_s, interval_s=0.05, message=f"{name} {status}")


async def component_up(gw: RunningGateway, name: str) -> float | None:
    """trinetra_gateway_component_up of `name`; None while the gauge has no such sample
    (read_metric answers 0 for a missing one, which would hide a gauge never set)."""
    metrics = (await gw.http.get("/metrics")).text
    sample = f'trinetra_gateway_component_up{{component="{name}"}}'
    if sample not in metrics:
        return None
    return read_metric(metrics, "trinetra_gateway_component_up", {"component": name})


async def killed_then(
    gw: RunningGateway, process: Any, name: str, status: ComponentStatus
) -> tuple[dict[str, Any], float]:
    """SIGKILL `process`; the component once it shows `status`, and how long that took."""
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(process.kill)
    killed_at = loop.time()
    seen = await status_becomes(gw, name, status, timeout_s=20)
    took_s = loop.time() - killed_at
    print(f"{name} {status} {took_s:.2f} s after SIGKILL (interval {INTERVAL_S} s)")
    return seen, took_s


# --- identity ---------------------------------------------------------------------------


def identity_process(workdir: Path, nats_url: str) -> IdentityProcess:
    config = workdir / "identity.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store_id": STORE,
                "nats_servers": [nats_url],
                "identity": {
                    "gallery": {"path": str(workdir / "gallery")},
                    "audit": {"path": str(workdir / "audit.jsonl")},
                },
            }
        )
    )
    return IdentityProcess(
        port=free_port(),  # names its log only: the health endpoint stays off here
        log_path=workdir / "identity.log",
        args=["--config", str(config)],
        env={"TRINETRA_LOG_JSON": "true"},
    )


async def test_identity_up_then_killed_is_down_within_the_interval(
    database_url: str, nats_server: NatsServer, tmp_path: Path, started: list[Any]
) -> None:
    identity = await start(started, identity_process(tmp_path, nats_server.url))
    health = health_settings(identity=True)
    async with running_gateway(settings(database_url, nats_server.url, health=health)) as gw:
        up = await status_becomes(gw, "identity", ComponentStatus.OK)
        assert up["details"]["store_id"] == STORE and up["details"]["ready"] is True
        assert up["store_id"] == STORE and up["checked_at"] is not None
        assert await component_up(gw, "identity") == 1.0
        data = await gw.graphql(
            "{ systemHealth { status components { name status reason storeId details } } }"
        )
        assert "errors" not in data, data
        by_name = {c["name"]: c for c in data["data"]["systemHealth"]["components"]}
        assert by_name["identity"]["status"] == "OK", by_name
        assert by_name["identity"]["details"]["store_id"] == STORE

        down, took_s = await killed_then(gw, identity, "identity", ComponentStatus.DOWN)
        assert "no identity service" in down["reason"], down
        assert took_s < SHOWS_WITHIN_S, f"identity down after {took_s:.2f} s"
        assert await component_up(gw, "identity") == 0.0
        system = (await gw.http.get("/health")).json()["system"]
        assert system == "down"
        # /ready is about the gateway itself: a dead identity service does not change it.
        assert (await gw.http.get("/ready")).status_code == 200


# --- store node and Triton ----------------------------------------------------------------


def node_process(workdir: Path, nats_url: str, triton_url: str) -> NodeProcess:
    cameras = workdir / "cameras.yaml"
    camera = {
        "id": "entrance-1",
        "name": "Entrance",
        "role": "entrance",
        "source": str(media_path("vtest.avi")),
        "loop": True,
        "target_fps": 2,
    }
    cameras.write_text(yaml.safe_dump({"cameras": [camera]}))
    port = free_port()
    return NodeProcess(
        port=port,
        log_path=workdir / "node.log",
        args=["--cameras", str(cameras)],
        env={
            "TRINETRA_STORE_ID": STORE,
            "TRINETRA_NATS_URL": nats_url,
            "TRINETRA_TRITON__URL": triton_url,
            "TRINETRA_INFERENCE_PROFILE": "cpu",
            "TRINETRA_HEALTH_PORT": str(port),
            "TRINETRA_LOG_JSON": "true",
            "OPENCV_LOG_LEVEL": "ERROR",
        },
    )


async def test_store_node_reachable_then_killed_and_triton_per_endpoint(
    database_url: str,
    nats_server: NatsServer,
    triton_server: LocalTriton,
    tmp_path: Path,
    started: list[Any],
) -> None:
    node = await start(started, node_process(tmp_path, nats_server.url, triton_server.grpc_url))
    unreachable = f"127.0.0.1:{free_port()}"
    overrides = {
        "health": health_settings(triton=True),
        "node_urls": {STORE: f"http://127.0.0.1:{node.port}"},
        "triton": TritonSettings(endpoints=[triton_server.grpc_url, unreachable]),
    }
    async with running_gateway(settings(database_url, nats_server.url, **overrides)) as gw:
        name = f"node:{STORE}"
        live = await status_becomes(gw, name, ComponentStatus.OK, timeout_s=90)
        assert live["details"]["cameras"] == {"entrance-1": "live"}, live
        assert live["details"]["ready"] is True and live["reason"] == "ready, 1 cameras live"
        assert await component_up(gw, name) == 1.0

        # One of two Triton endpoints is away: degraded, and the reason names it.
        triton = await status_becomes(gw, "triton", ComponentStatus.DEGRADED)
        assert triton["details"]["endpoints"][triton_server.grpc_url] == "ready", triton
        assert unreachable in triton["reason"] and "unreachable" in triton["reason"], triton
        assert await component_up(gw, "triton") == 1.0

        down, took_s = await killed_then(gw, node, name, ComponentStatus.DOWN)
        assert down["reason"].startswith("unreachable: Connect"), down
        assert took_s < SHOWS_WITHIN_S, f"node down after {took_s:.2f} s"
        assert await component_up(gw, name) == 0.0


async def test_triton_probe_reports_the_session_triton_ready_and_a_dead_one_down(
    triton_server: LocalTriton,
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with (
        VisionClient(TritonSettings(url=triton_server.grpc_url)) as good,
        VisionClient(TritonSettings(url=dead)) as bad,
    ):
        [ready] = await TritonProbe(lambda: good, TIMEOUT_S).check()
        assert ready.status is ComponentStatus.OK, ready
        assert ready.reason == f"{good.settings.pipeline_model} ready"
        [down] = await TritonProbe(lambda: bad, TIMEOUT_S).check()
        assert down.status is ComponentStatus.DOWN, down
        assert down.reason.startswith(f"{dead}: unreachable"), down
        [unknown] = await TritonProbe(lambda: None, TIMEOUT_S).check()
        assert unknown.status is ComponentStatus.UNKNOWN


# --- ingest -------------------------------------------------------------------------------


def outstanding(found: dict[str, Any] | None, stream: str = "DETECTIONS") -> int | None:
    streams = {} if found is None else found["details"].get("streams", {})
    return None if streams.get(stream) is None else int(streams[stream]["outstanding"])


async def test_ingest_lag_from_consumer_info_grows_while_ingest_is_stopped(
    database_url: str, nats_server: NatsServer, publisher: EventPublisher
) -> None:
    health = health_settings(ingest_lag_degraded=10, stalled_s=3.0)
    async with running_gateway(settings(database_url, nats_server.url, health=health)) as gw:
        await wait_schema(gw.gateway)
        for event in detections("cam-1", datetime.now(UTC), 5):
            publisher.publish(event)
        await publisher.flush()

        async def drained() -> dict[str, Any] | None:
            found = await component(gw, "ingest")
            return found if outstanding(found) == 0 else None

        stored = await eventually(drained, 30, interval_s=0.1, message="ingest caught up")
        assert stored["status"] == "ok", stored
        assert stored["details"]["streams"]["DETECTIONS"]["oldest_unstored_s"] == 0.0

        ingest = gw.gateway.ingest
        assert ingest is not None
        await ingest.stop()
        for event in detections("cam-1", datetime.now(UTC), 30):
            publisher.publish(event)
        await publisher.flush()

        async def behind() -> dict[str, Any] | None:
            found = await component(gw, "ingest")
            return found if outstanding(found) == 30 else None

        first = await eventually(behind, 10, interval_s=0.05, message="30 outstanding")
        assert first["status"] in ("degraded", "down"), first
        assert "DETECTIONS: 30" in first["reason"], first
        metrics = (await gw.http.get("/metrics")).text
        labels = {"stream": "DETECTIONS"}
        assert read_metric(metrics, "trinetra_gateway_ingest_outstanding", labels) == 30.0
        # The oldest unstored event keeps ageing while nothing stores it.
        await asyncio.sleep(1.0)
        later = await component(gw, "ingest")
        assert later is not None
        age = later["details"]["streams"]["DETECTIONS"]["oldest_unstored_s"]
        assert age > first["details"]["streams"]["DETECTIONS"]["oldest_unstored_s"], later
        stalled = await status_becomes(gw, "ingest", ComponentStatus.DOWN, timeout_s=10)
        assert "no delivery" in stalled["reason"], stalled

        ingest.start()
        resumed = await status_becomes(gw, "ingest", ComponentStatus.OK, timeout_s=30)
        assert outstanding(resumed) == 0, resumed


# --- analytics ------------------------------------------------------------------------------


def analytics_process(workdir: Path, nats_url: str, partition: int, partitions: int) -> Any:
    seed = load_yaml(ANALYTICS_SEED, StoreAnalyticsConfig, what="analytics config")
    seed_file = workdir / "analytics.yaml"
    seed_file.write_text(
        yaml.safe_dump(seed.model_copy(update={"store_id": STORE}).model_dump(mode="json"))
    )
    port = free_port()
    return AnalyticsProcess(
        port=port,
        log_path=workdir / f"analytics-{partition}.log",
        args=["--config", str(seed_file)],
        env={
            "TRINETRA_STORE_ID": STORE,
            "TRINETRA_NATS_URL": nats_url,
            "TRINETRA_PARTITION": str(partition),
            "TRINETRA_PARTITIONS": str(partitions),
            "TRINETRA_HEALTH_PORT": str(port),
            "TRINETRA_CHECKPOINT_INTERVAL_S": "0.5",
            "TRINETRA_FETCH_TIMEOUT_S": "0.5",
            "TRINETRA_LOG_JSON": "true",
        },
    )


async def test_analytics_partitions_reported_from_consumer_info_and_their_health(
    database_url: str,
    nats_server: NatsServer,
    publisher: EventPublisher,
    tmp_path: Path,
    started: list[Any],
) -> None:
    first = await start(started, analytics_process(tmp_path, nats_server.url, 0, 2))
    second = await start(started, analytics_process(tmp_path, nats_server.url, 1, 2))
    urls = [f"http://127.0.0.1:{first.port}", f"http://127.0.0.1:{second.port}"]
    health = health_settings(analytics_urls=urls, stalled_s=3.0)
    async with running_gateway(settings(database_url, nats_server.url, health=health)) as gw:
        for camera in ("cam-1", "cam-2", "cam-3", "cam-4"):
            for event in detections(camera, datetime.now(UTC), 3):
                publisher.publish(event)
        await publisher.flush()
        for partition in ("0/2", "1/2"):
            name = f"analytics:{partition}"

            async def caught_up(name: str = name) -> dict[str, Any] | None:
                found = await component(gw, name)
                if found is None or found["status"] != "ok":
                    return None
                return found if found["details"].get("pending") == 0 else None

            seen = await eventually(caught_up, 60, interval_s=0.1, message=f"{name} ok")
            index = partition.split("/")[0]
            assert seen["details"]["consumer"].endswith(f"-p{index}-of-2"), seen
            assert seen["details"]["service"]["ready"] is True, seen
            assert seen["reason"] == "0 detections behind", seen
            assert seen["store_id"] == STORE

        down, took_s = await killed_then(gw, second, "analytics:1/2", ComponentStatus.DOWN)
        assert down["reason"].startswith(f"{urls[1]} unreachable"), down
        assert took_s < SHOWS_WITHIN_S, f"analytics partition down after {took_s:.2f} s"
        assert (await component(gw, "analytics:0/2") or {}).get("status") == "ok"
        assert await component_up(gw, "analytics:1/2") == 0.0


def test_health_settings_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError, match="interval_sec"):
        HealthSettings.model_validate(json.loads('{"interval_sec": 1}'))
