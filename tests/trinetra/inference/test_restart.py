"""A Triton restart mid-run: the caller keeps going and gets results again afterwards."""

import asyncio
from collections.abc import Iterator

import pytest

from devservices.paths import REPO_ROOT
from tests.support.media import media_bytes
from tests.support.triton_server import LocalTriton
from trinetra.inference import InferenceUnavailableError, TritonSettings, VisionClient


@pytest.fixture
def own_server() -> Iterator[LocalTriton]:
    server = LocalTriton(
        workdir=REPO_ROOT / ".cache" / "triton-tests",
        extra_args=[
            "--model",
            "person_detector",
            "--model",
            "face_detector",
            "--model",
            "face_embedder",
            "--model",
            "vision_pipeline",
        ],
    )
    server.start()
    yield server
    server.stop()


async def test_client_recovers_from_server_restart(own_server: LocalTriton) -> None:
    settings = TritonSettings(
        url=own_server.grpc_url, retries=2, backoff_max_s=0.5, call_timeout_s=5.0
    )
    frame = media_bytes("bus.jpg")
    outcomes: list[str] = []
    restarted, serving = asyncio.Event(), asyncio.Event()

    async def caller(client: VisionClient) -> None:
        successes_after_restart = 0
        while successes_after_restart < 3:
            try:
                result = await client.analyze(frame)
                assert (result.persons.confidence >= 0.25).sum() == 4
                outcomes.append("ok")
                serving.set()
                if restarted.is_set():
                    successes_after_restart += 1
            except InferenceUnavailableError:
                outcomes.append("unavailable")
                await asyncio.sleep(0.2)

    async with VisionClient(settings) as client:
        task = asyncio.create_task(caller(client))
        await asyncio.wait_for(serving.wait(), timeout=60)
        await asyncio.to_thread(own_server.restart)
        restarted.set()
        await asyncio.wait_for(task, timeout=60)
    assert outcomes[-3:] == ["ok", "ok", "ok"]
