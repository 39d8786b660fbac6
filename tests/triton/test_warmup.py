"""Warm-up: every profile of every inner model declares Triton's `model_warmup`, and on
the CPU server a model is READY only after its warm-up inferences ran: readiness is
polled from the server's start, and at the first moment each model answers ready its
statistics already hold exactly the warm-up's executions (nobody else has sent it
anything yet). The first frame after ready then costs about what later frames cost.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pytest
import tritonclient.grpc.aio as grpcclient
from google.protobuf import text_format  # type: ignore[import-untyped]  # no stubs installed
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import InferenceServerException

from devservices.paths import MODEL_REPOSITORY
from tests.support.media import media_bytes
from tests.support.triton_server import TEST_WORKDIR, LocalTriton
from trinetra.inference import TritonSettings, VisionClient
from trinetra.inference.client import PIPELINE_INNER_MODELS

PROFILE = "openvino"
POLL_S = 0.02
START_TIMEOUT_S = 180.0


def _config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _profiles(model: str) -> list[Path]:
    folder = MODEL_REPOSITORY / model
    return [folder / "config.pbtxt", *sorted((folder / "configs").glob("*.pbtxt"))]


@pytest.mark.parametrize("model", PIPELINE_INNER_MODELS)
def test_every_profile_warms_up_on_every_input(model: str) -> None:
    """Triton checks a warm-up sample only for the profile it loads: the GPU ones are
    checked here, against their own inputs and batch limit."""
    for path in _profiles(model):
        config = _config(path)
        assert config.model_warmup, f"{path} declares no model_warmup"
        declared = {i.name: (i.data_type, list(i.dims)) for i in config.input}
        for sample in config.model_warmup:
            assert 1 <= sample.batch_size <= config.max_batch_size, (path, sample.name)
            sent = {
                name: (value.data_type, list(value.dims)) for name, value in sample.inputs.items()
            }
            assert sent == declared, (path, sample.name)


def _warmup_executions(model: str) -> int:
    """Executions the served profile's warm-up runs on one instance."""
    config = _config(MODEL_REPOSITORY / model / "configs" / f"{PROFILE}.pbtxt")
    assert [group.count for group in config.instance_group] == [1], "one instance assumed"
    return sum(max(sample.count, 1) for sample in config.model_warmup)


async def _executions_when_first_ready(
    client: grpcclient.InferenceServerClient,
    models: tuple[str, ...],
    starting: asyncio.Task[LocalTriton],
) -> dict[str, int]:
    """Poll each model's readiness from the server's start; at the first ready answer,
    its execution count."""
    seen: dict[str, int] = {}
    while len(seen) < len(models):
        if starting.done():
            starting.result()  # a failed start raises here
        for model in (m for m in models if m not in seen):
            try:
                if not await client.is_model_ready(model, client_timeout=1):
                    continue
                stats = await client.get_inference_statistics(model, as_json=True)
            except InferenceServerException:
                continue  # not listening yet
            (version,) = stats["model_stats"]
            seen[model] = int(version.get("execution_count", 0))
        await asyncio.sleep(POLL_S)
    return seen


async def test_a_model_is_ready_only_after_its_warmup_ran() -> None:
    server = LocalTriton(
        workdir=TEST_WORKDIR,
        profile=PROFILE,
        extra_args=[
            arg
            for model in (*PIPELINE_INNER_MODELS, "vision_pipeline")
            for arg in ("--model", model)
        ],
    )
    starting = asyncio.create_task(asyncio.to_thread(server.start, START_TIMEOUT_S))
    try:
        async with grpcclient.InferenceServerClient(server.grpc_url) as raw:
            at_ready = await asyncio.wait_for(
                _executions_when_first_ready(raw, PIPELINE_INNER_MODELS, starting),
                START_TIMEOUT_S,
            )
            await starting
            warmups = {m: _warmup_executions(m) for m in PIPELINE_INNER_MODELS}
            assert min(warmups.values()) >= 1, warmups
            assert at_ready == warmups

        async with VisionClient(TritonSettings(url=server.grpc_url, call_timeout_s=60)) as client:
            assert await client.is_ready()
            frame = media_bytes("bus.jpg")
            timings = []
            for _ in range(6):
                started = time.perf_counter()
                await client.analyze(frame)
                timings.append(time.perf_counter() - started)
    finally:
        if not starting.done():
            await asyncio.wait([starting])
        server.close()
    first, steady = timings[0], statistics.median(timings[1:])
    print(f"\nwarm-up: first frame {first * 1000:.0f} ms, then median {steady * 1000:.0f} ms")
    # Loose, for a shared 2-core machine; perf/bench_warmup.py has the figures.
    assert first <= 3 * steady + 0.25, (first, steady)
