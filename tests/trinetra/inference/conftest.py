from collections.abc import AsyncIterator

import pytest

from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings, VisionClient


@pytest.fixture
async def vision(triton_server: LocalTriton) -> AsyncIterator[VisionClient]:
    async with VisionClient(
        TritonSettings(url=triton_server.grpc_url, call_timeout_s=60)
    ) as client:
        await client.wait_ready()
        yield client
