"""The client's tensor declaration (trinetra.inference.tensors) against a running server's
model metadata."""

import pytest

from tests.support.triton_server import LocalTriton
from trinetra.inference import InferenceError, TritonSettings, VisionClient


async def test_the_served_pipeline_matches_the_clients_declaration(vision: VisionClient) -> None:
    await vision.verify_pipeline()


async def test_a_pipeline_without_the_declared_tensors_is_refused_naming_them(
    triton_server: LocalTriton,
) -> None:
    # person_detection takes encoded frames and answers person boxes only.
    settings = TritonSettings(url=triton_server.grpc_url, pipeline_model="person_detection")
    async with VisionClient(settings) as client:
        await client.wait_ready()
        with pytest.raises(InferenceError) as caught:
            await client.verify_pipeline()
    message = str(caught.value)
    assert "input IMAGE_RAW is missing" in message
    assert "output FACE_EMBEDDINGS is missing" in message
    assert "PERSON_BOXES" not in message
