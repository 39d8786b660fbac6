"""Concurrent requests are batched by Triton's dynamic batcher."""

import asyncio

import tritonclient.grpc.aio as grpcclient

from tests.support.media import media_bytes
from tests.support.triton_server import LocalTriton
from trinetra.inference import VisionClient


async def batch_sizes(url: str, model: str) -> dict[int, int]:
    """Executions per batch size, from the server's statistics API."""
    client = grpcclient.InferenceServerClient(url)
    try:
        stats = await client.get_inference_statistics(model, as_json=True)
    finally:
        await client.close()
    sizes: dict[int, int] = {}
    for model_stats in stats["model_stats"]:
        for entry in model_stats.get("batch_stats", []):
            sizes[int(entry["batch_size"])] = int(entry["compute_infer"]["count"])
    return sizes


async def test_concurrent_frames_are_batched(
    vision: VisionClient, triton_server: LocalTriton
) -> None:
    frame = media_bytes("bus.jpg")
    results = await asyncio.gather(*(vision.analyze(frame) for _ in range(16)))
    assert all(len(r.persons) == len(results[0].persons) for r in results)
    for model in ("vision_pipeline", "person_detector", "face_detector"):
        sizes = await batch_sizes(triton_server.grpc_url, model)
        assert max(sizes) > 1, f"{model} never ran a batch larger than 1: {sizes}"
