"""The socket source's framings on their own: every JPEG layout a camera may send
(EXIF thumbnail, progressive, restart markers), PNG, any read size, and resynchronisation
after truncation and noise."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orchestrator.cameras.framing import (
    BrokenFrame,
    BrokenReason,
    FrameParser,
    JpegMarkerParser,
    LengthPrefixedParser,
)
from tests.orchestrator.cameras.tcp_camera import length_prefixed, noise

READ_SIZES = [1, 7, 1448, 65536, 1 << 30]  # byte by byte up to everything at once
Parsed = bytes | BrokenReason


def _encode(image: NDArray[np.uint8], ext: str = ".jpg", *params: int) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


def _with_exif_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding a whole JPEG (SOI..EOI), as EXIF does."""
    payload = b"Exif\x00\x00" + thumbnail
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


@pytest.fixture(scope="module")
def layouts(vtest_frames: list[NDArray[np.uint8]]) -> dict[str, bytes]:
    frame = vtest_frames[0]
    thumbnail = _encode(np.asarray(cv2.resize(frame, (96, 72)), np.uint8))
    return {
        "baseline": _encode(frame),
        "progressive": _encode(frame, ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
        "restart-markers": _encode(frame, ".jpg", cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
        "exif-thumbnail": _with_exif_thumbnail(_encode(frame), thumbnail),
    }


def _unframed(image: bytes) -> bytes:
    return image


def _parse(parser: FrameParser, stream: bytes, read_size: int) -> list[Parsed]:
    parsed: list[Parsed] = []
    for start in range(0, len(stream), read_size):
        parser.feed(stream[start : start + read_size])
        while (item := parser.next_frame()) is not None:
            parsed.append(item.reason if isinstance(item, BrokenFrame) else item)
    return parsed


@pytest.mark.parametrize("read_size", READ_SIZES)
def test_marker_framing_keeps_every_jpeg_layout_whole(
    layouts: dict[str, bytes], read_size: int
) -> None:
    images = list(layouts.values())
    for image in images:  # each is a valid image in its own right
        assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR) is not None
    parser = JpegMarkerParser(8 << 20)
    assert _parse(parser, b"".join(images), read_size) == images
    assert parser.skipped_bytes == 0


@pytest.mark.parametrize("read_size", READ_SIZES)
def test_length_framing_carries_jpeg_and_png(
    layouts: dict[str, bytes], vtest_frames: list[NDArray[np.uint8]], read_size: int
) -> None:
    images = [*layouts.values(), _encode(vtest_frames[1], ".png")]
    parser = LengthPrefixedParser(8 << 20)
    assert _parse(parser, b"".join(map(length_prefixed, images)), read_size) == images
    assert parser.skipped_bytes == 0


@pytest.mark.parametrize("read_size", READ_SIZES)
@pytest.mark.parametrize("framing", ["jpeg_markers", "length_prefixed"])
def test_resynchronises_after_truncation_and_noise(
    layouts: dict[str, bytes],
    vtest_frames: list[NDArray[np.uint8]],
    framing: str,
    read_size: int,
) -> None:
    images = list(layouts.values())
    if framing == "length_prefixed":
        images.append(_encode(vtest_frames[1], ".png"))
    parser: FrameParser = (
        JpegMarkerParser(8 << 20) if framing == "jpeg_markers" else LengthPrefixedParser(8 << 20)
    )
    wrap: Callable[[bytes], bytes] = _unframed if framing == "jpeg_markers" else length_prefixed
    stream = b""
    for index, image in enumerate(images):
        framed = wrap(image)
        for cut in (60, len(framed) // 2):  # inside the headers, inside the image data
            stream += noise(300 * index + 17, seed=index) + framed[:cut]
        stream += framed
    parsed = _parse(parser, stream, read_size)

    # Every whole frame is found, in order, and nothing else passes for one.
    assert [item for item in parsed if isinstance(item, bytes)] == images
    broken_runs: list[list[Parsed]] = [[]]
    for item in parsed:
        if isinstance(item, bytes):
            broken_runs.append([])
        else:
            broken_runs[-1].append(item)
    for run in broken_runs[:-1]:
        # Two cut frames before each whole one. A cut in the headers may run into the
        # next frame's bytes (then it is found out as corrupt rather than truncated), and
        # the first 60 bytes of the EXIF image hold its thumbnail's SOI, a JPEG start of
        # its own, so it may count twice; a whole frame is never lost to either.
        assert 2 <= len(run) <= 3, run
        assert set(run) <= {BrokenReason.TRUNCATED, BrokenReason.CORRUPT}
    assert broken_runs[-1] == []
    assert parser.skipped_bytes == len(stream) - sum(len(wrap(image)) for image in images)


@pytest.mark.parametrize("read_size", [1448, 65536, 1 << 30])
@pytest.mark.parametrize("framing", ["jpeg_markers", "length_prefixed"])
def test_oversized_frames_are_refused_and_the_next_frame_is_found(
    layouts: dict[str, bytes], framing: str, read_size: int
) -> None:
    small, big = layouts["progressive"], layouts["baseline"]
    limit = len(small) + 10
    assert len(big) > limit
    parser: FrameParser
    if framing == "jpeg_markers":
        parser, stream = JpegMarkerParser(limit), small + big + small
    else:
        parser = LengthPrefixedParser(limit)
        stream = b"".join(map(length_prefixed, [small, big, small]))
    assert _parse(parser, stream, read_size) == [small, BrokenReason.OVERSIZED, small]


def test_length_framing_ignores_headers_without_an_image() -> None:
    jpeg_like = b"\xff\xd8\xff\xe0" + bytes(20) + b"\xff\xd9"
    stream = (
        length_prefixed(b"a text message, not an image")
        + (3).to_bytes(4, "big")  # too short to be an image
        + length_prefixed(jpeg_like)
    )
    parser = LengthPrefixedParser(1 << 20)
    assert _parse(parser, stream, 1 << 30) == [jpeg_like]
