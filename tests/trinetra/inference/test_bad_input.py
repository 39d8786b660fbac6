"""Bad frames get clear errors, and the server keeps serving everyone else."""

import asyncio

import cv2
import numpy as np
import pytest

from tests.support.media import media_bytes
from trinetra.inference import InvalidInputError, VisionClient


async def assert_still_serving(vision: VisionClient) -> None:
    result = await vision.analyze(media_bytes("bus.jpg"))
    assert (result.persons.confidence >= 0.25).sum() == 4


def corrupt_jpeg() -> bytes:
    data = bytearray(media_bytes("bus.jpg"))
    return bytes(data[:600])  # headers intact, entropy-coded data gone


async def test_corrupt_jpeg(vision: VisionClient) -> None:
    with pytest.raises(InvalidInputError, match="undecodable"):
        await vision.analyze(corrupt_jpeg())
    with pytest.raises(InvalidInputError, match="not a JPEG or PNG"):
        await vision.analyze(b"GIF89a definitely not a frame")
    await assert_still_serving(vision)


async def test_empty_input(vision: VisionClient) -> None:
    # bypass the client's own check: the server must refuse it too
    with pytest.raises(InvalidInputError, match="empty image"):
        await vision.infer(
            "vision_pipeline", {"IMAGE_ENCODED": np.zeros((1, 0), np.uint8)}, ["PERSON_BOXES"]
        )
    with pytest.raises(InvalidInputError, match="empty image"):
        await vision.analyze(b"")
    with pytest.raises(InvalidInputError, match="0 inputs"):
        await vision.infer("vision_pipeline", {}, ["PERSON_BOXES"])
    both = {
        "IMAGE_ENCODED": np.frombuffer(media_bytes("bus.jpg"), np.uint8)[None],
        "IMAGE_RAW": np.zeros((1, 8, 8, 3), np.uint8),
    }
    with pytest.raises(InvalidInputError, match="exactly one of"):
        await vision.infer("vision_pipeline", both, ["PERSON_BOXES"])
    await assert_still_serving(vision)


async def test_wrong_dtype(vision: VisionClient) -> None:
    with pytest.raises(InvalidInputError, match="UINT8"):
        await vision.infer(
            "vision_pipeline", {"IMAGE_ENCODED": np.zeros((1, 16), np.float32)}, ["PERSON_BOXES"]
        )
    with pytest.raises(InvalidInputError, match="HxWx3"):
        await vision.analyze(np.zeros((64, 64), np.uint8))
    await assert_still_serving(vision)


async def test_oversized_frame(vision: VisionClient) -> None:
    ok, encoded = cv2.imencode(".jpg", np.zeros((4400, 8000, 3), np.uint8))
    assert ok
    with pytest.raises(InvalidInputError, match="exceeds the limit"):
        await vision.analyze(encoded.tobytes())
    await assert_still_serving(vision)


async def test_bad_frame_in_a_batch_fails_alone(vision: VisionClient) -> None:
    good = media_bytes("t1.jpg")
    outcomes = await asyncio.gather(
        *(vision.analyze(corrupt_jpeg() if i % 3 == 0 else good) for i in range(9)),
        return_exceptions=True,
    )
    for i, outcome in enumerate(outcomes):
        if i % 3 == 0:
            assert isinstance(outcome, InvalidInputError)
        else:
            assert not isinstance(outcome, BaseException), outcome
            assert len(outcome.faces) == 6
