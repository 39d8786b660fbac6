"""FileSource: real-time pacing, decimation to the target fps, looping, timestamps."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orchestrator.cameras import EndOfStream, FileSource, SourceError, open_source
from tests.support.media import media_path
from trinetra.config import CameraConfig


@pytest.fixture
def short_video(tmp_path: Path, vtest_frames: list[NDArray[np.uint8]]) -> Path:
    """Six real frames at 20 fps in an MJPG AVI (OpenCV writes it without extra codecs)."""
    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 20.0, (768, 576))
    assert writer.isOpened()
    for frame in vtest_frames[:6]:
        writer.write(frame)
    writer.release()
    return path


def _read(source: FileSource, count: int) -> list[tuple[float, float, NDArray[np.uint8]]]:
    out = []
    for _ in range(count):
        frame = source.read()
        assert frame.image is not None and frame.capture_ts is not None
        out.append((time.monotonic(), frame.capture_ts, frame.image))
    return out


def test_plays_in_real_time_at_the_file_rate() -> None:
    source = FileSource(str(media_path("vtest.avi")), target_fps=30)
    source.open()
    try:
        started = time.monotonic()
        frames = _read(source, 11)
    finally:
        source.close()
    assert source.fps == pytest.approx(10.0)
    # 11 frames of a 10 fps file span 1.0 s of media and so of wall time.
    assert 0.9 <= frames[-1][0] - started <= 1.3
    steps = np.diff([capture for _, capture, _ in frames])
    assert np.allclose(steps, 0.1, atol=0.005)
    assert frames[0][2].shape == (576, 768, 3)


def test_decimates_to_a_lower_target_fps() -> None:
    source = FileSource(str(media_path("vtest.avi")), target_fps=5)
    source.open()
    try:
        frames = _read(source, 4)
    finally:
        source.close()
    steps = np.diff([capture for _, capture, _ in frames])
    assert np.allclose(steps, 0.2, atol=0.005)


def test_loops_with_monotonic_timestamps(short_video: Path) -> None:
    source = FileSource(str(short_video), target_fps=30, loop=True)
    source.open()
    try:
        frames = _read(source, 15)  # 2.5 passes through a 6-frame file
    finally:
        source.close()
    captures = [capture for _, capture, _ in frames]
    assert np.allclose(np.diff(captures), 0.05, atol=0.005)
    # Frame 6 is frame 0 again: the file restarted.
    assert np.array_equal(frames[6][2], frames[0][2])


def test_without_loop_the_end_is_end_of_stream(short_video: Path) -> None:
    source = FileSource(str(short_video), target_fps=30)
    source.open()
    try:
        _read(source, 6)
        with pytest.raises(EndOfStream):
            source.read()
    finally:
        source.close()


def test_missing_file_fails_to_open(tmp_path: Path) -> None:
    source = FileSource(str(tmp_path / "missing.avi"))
    with pytest.raises(SourceError, match="does not exist"):
        source.open()


def test_factory_builds_a_file_source_from_a_file_url() -> None:
    config = CameraConfig(
        id="demo",
        name="demo",
        role="general",
        source=media_path("vtest.avi").as_uri(),
        loop=True,
    )
    source = open_source(config)
    assert isinstance(source, FileSource)
    source.open()
    try:
        assert source.read().image is not None
    finally:
        source.close()
