"""Frame validation: each reject reason, counted, and never an exception."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orchestrator.frames import FrameValidator, RejectReason, check_frame, decode_jpeg
from orchestrator.metrics import OrchestratorMetrics


def test_a_real_frame_is_valid(real_frame: NDArray[np.uint8]) -> None:
    assert check_frame(real_frame) is None


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (None, RejectReason.EMPTY),
        (np.zeros((0, 0, 3), np.uint8), RejectReason.EMPTY),
        (np.zeros((576, 768), np.uint8) + 100, RejectReason.BAD_SHAPE),  # grey, 2-D
        (np.zeros((576, 768, 4), np.uint8) + 100, RejectReason.BAD_SHAPE),  # BGRA
        (np.random.default_rng(0).random((576, 768, 3)), RejectReason.BAD_SHAPE),  # float
        (np.full((8, 8, 3), 100, np.uint8), RejectReason.BAD_SHAPE),  # too small
        ([[1, 2, 3]], RejectReason.BAD_SHAPE),  # not an array at all
        ("garbage", RejectReason.BAD_SHAPE),
        (np.zeros((576, 768, 3), np.uint8), RejectReason.BLACK),
        (np.full((576, 768, 3), 2, np.uint8), RejectReason.BLACK),  # mean 2 is outside (2, 253)
        (np.full((576, 768, 3), 255, np.uint8), RejectReason.WHITE),
        (np.full((576, 768, 3), 253, np.uint8), RejectReason.WHITE),
        (np.full((576, 768, 3), 128, np.uint8), RejectReason.BLANK),
    ],
    ids=[
        "none",
        "zero-size",
        "2d",
        "4-channel",
        "float",
        "tiny",
        "list",
        "string",
        "black",
        "mean-2",
        "white",
        "mean-253",
        "uniform-grey",
    ],
)
def test_reject_reasons(image: object, reason: RejectReason) -> None:
    assert check_frame(image) is reason


def test_low_contrast_noise_is_blank_but_texture_is_not() -> None:
    rng = np.random.default_rng(1)
    faint = (128 + rng.normal(0, 2, (576, 768, 3))).clip(0, 255).astype(np.uint8)
    assert check_frame(faint) is RejectReason.BLANK
    textured = (128 + rng.normal(0, 20, (576, 768, 3))).clip(0, 255).astype(np.uint8)
    assert check_frame(textured) is None
    dim_but_real = (12 + rng.normal(0, 10, (576, 768, 3))).clip(0, 255).astype(np.uint8)
    assert check_frame(dim_but_real) is None  # dark (mean ~13) but with content


def test_decode_jpeg(real_frame: NDArray[np.uint8]) -> None:
    ok, jpeg = cv2.imencode(".jpg", real_frame)
    assert ok
    decoded = decode_jpeg(jpeg.tobytes())
    assert decoded is not None and decoded.shape == real_frame.shape
    assert decode_jpeg(b"") is None
    assert decode_jpeg(b"\xff\xd8 definitely not a jpeg") is None
    assert decode_jpeg(np.random.default_rng(2).bytes(5000)) is None


def test_validator_counts_rejects_by_reason(
    real_frame: NDArray[np.uint8], metrics: OrchestratorMetrics
) -> None:
    validator = FrameValidator("cam-1", metrics=metrics)
    black = np.zeros_like(real_frame)
    inputs: list[object] = [real_frame, black, black, None, "x", real_frame]
    results = [validator.validate(image) for image in inputs]
    validator.reject(RejectReason.UNDECODABLE)

    assert results == [True, False, False, False, False, True]
    assert validator.accepted == 2

    def count(reason: str) -> float | None:
        return metrics.registry.get_sample_value(
            "trinetra_frames_rejected_total", {"camera": "cam-1", "reason": reason}
        )

    assert count("black") == 2
    assert count("empty") == 1
    assert count("bad_shape") == 1
    assert count("undecodable") == 1
    assert count("white") is None
    assert validator.rejected[RejectReason.BLACK] == 2
