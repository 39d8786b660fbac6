"""Raw socket source against a real TCP server sending JPEGs of real video in both
framings: good frames, truncated frames, oversized frames and noise."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orchestrator.cameras import CameraState, CameraWorker, FrameSource, TcpSource, open_source
from orchestrator.cameras.tcp import KEEPALIVE_IDLE_S
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.orchestrator.cameras.tcp_camera import (
    TcpCamera,
    TcpCameraOptions,
    length_prefixed,
    noise,
)
from tests.support.metrics import read_metric
from tests.support.polling import eventually
from trinetra.config import CameraConfig

CAMERA = "legacy-dvr"
FRAMINGS = ["jpeg_markers", "length_prefixed"]


def _framed(framing: str) -> Callable[[bytes], bytes]:
    return length_prefixed if framing == "length_prefixed" else (lambda jpeg: jpeg)


class _Sources:
    """A source factory (the real one) that keeps the sources it made, to inspect them."""

    def __init__(self) -> None:
        self.made: list[TcpSource] = []

    def __call__(self, config: CameraConfig) -> FrameSource:
        source = open_source(config)
        assert isinstance(source, TcpSource)
        self.made.append(source)
        return source


def _worker(
    server: TcpCamera,
    framing: str,
    metrics: OrchestratorMetrics,
    recorder: Recorder,
    sources: _Sources,
    **socket_options: Any,
) -> CameraWorker:
    # No burst drops: every frame sent at 20 fps must come through, so counts are exact.
    config = camera(
        CAMERA,
        server.url,
        target_fps=30,
        burst_tokens=60,
        buffer_size=16,
        socket={"framing": framing, **socket_options},
    )
    return CameraWorker(
        config, metrics=metrics, on_status=recorder.on_status, source_factory=sources
    )


def _count(metrics: OrchestratorMetrics, name: str, **labels: str) -> float:
    return read_metric(metrics.registry, name, {"camera": CAMERA, **labels})


async def _play(worker: CameraWorker, recorder: Recorder, done: Callable[[], bool]) -> None:
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(done, 10, message="the scripted frames")
        await asyncio.sleep(0.3)  # nothing more may arrive
    finally:
        await worker.stop()
        await consumer


def _same_picture(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> bool:
    # JPEG is lossy: a frame matches the one that was sent, not the neighbouring ones.
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) < 3.0


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_good_frames_arrive_whole_with_keepalive_on(
    vtest_jpegs: list[bytes],
    vtest_frames: list[NDArray[np.uint8]],
    metrics: OrchestratorMetrics,
    framing: str,
) -> None:
    wrap = _framed(framing)
    options = TcpCameraOptions(script_length=30)
    async with TcpCamera(lambda i: wrap(vtest_jpegs[i]), options) as server:
        recorder, sources = Recorder(), _Sources()
        worker = _worker(server, framing, metrics, recorder, sources)
        worker.start()
        consumer = asyncio.create_task(recorder.consume(worker))
        try:
            await eventually(lambda: len(recorder.frames) >= 30, 10, message="30 frames")
            sock = sources.made[0].connected_socket
            assert sock is not None
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_S
        finally:
            await worker.stop()
            await consumer

    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]
    assert len(recorder.frames) == 30
    assert all(
        _same_picture(frame.image, vtest_frames[i]) for i, frame in enumerate(recorder.frames)
    )
    assert _count(metrics, "trinetra_frames_rejected_total", reason="undecodable") == 0
    assert sources.made[0].skipped_bytes == 0


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_truncated_frames_and_noise_are_survived(
    vtest_jpegs: list[bytes],
    vtest_frames: list[NDArray[np.uint8]],
    metrics: OrchestratorMetrics,
    framing: str,
) -> None:
    """Slots of three: a good frame, a frame cut short, noise of varying length; and a
    good frame last, because a truncated frame is only noticed when more bytes follow
    (length_prefixed: until its declared length has arrived)."""
    wrap = _framed(framing)
    good: list[int] = []  # which vtest frame each good frame is

    def script(i: int) -> bytes:
        frame = vtest_jpegs[i % 40]
        kind = i % 3
        if kind == 0:
            good.append(i % 40)
            return wrap(frame)
        if kind == 1:
            cut = (len(frame) * (i % 7 + 1)) // 8  # cut in the headers, or deep in the data
            return wrap(frame)[: cut if i % 2 else 100]
        return noise(500 + 97 * i, seed=i)

    options = TcpCameraOptions(script_length=61)
    async with TcpCamera(script, options) as server:
        recorder, sources = Recorder(), _Sources()
        worker = _worker(server, framing, metrics, recorder, sources)
        await _play(worker, recorder, lambda: server.sent >= 61 and len(recorder.frames) >= 21)

    # Every good frame came through, and only those: truncation never merged two frames.
    assert len(recorder.frames) == 21
    assert all(
        _same_picture(frame.image, vtest_frames[index])
        for frame, index in zip(recorder.frames, good, strict=True)
    )
    # Each truncated frame is one undecodable frame; noise is no frame at all.
    assert _count(metrics, "trinetra_frames_rejected_total", reason="undecodable") == 20
    assert _count(metrics, "trinetra_frames_in_total") == 41
    assert sources.made[0].skipped_bytes > sum(500 + 97 * i for i in range(2, 60, 3))
    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_oversized_frames_are_skipped_and_counted(
    vtest_jpegs: list[bytes],
    vtest_frames: list[NDArray[np.uint8]],
    metrics: OrchestratorMetrics,
    framing: str,
) -> None:
    wrap = _framed(framing)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.resize(vtest_frames[0], (3072, 2304)), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    big = encoded.tobytes()
    limit = 256 * 1024
    assert len(big) > 3 * limit

    def script(i: int) -> bytes:
        return wrap(big if i % 4 == 1 else vtest_jpegs[i % 40])

    options = TcpCameraOptions(script_length=20)
    async with TcpCamera(script, options) as server:
        recorder, sources = Recorder(), _Sources()
        worker = _worker(server, framing, metrics, recorder, sources, max_frame_bytes=limit)
        await _play(worker, recorder, lambda: server.sent >= 20 and len(recorder.frames) >= 15)

    assert len(recorder.frames) == 15
    assert all(frame.image.shape == (576, 768, 3) for frame in recorder.frames)
    assert _count(metrics, "trinetra_frames_rejected_total", reason="undecodable") == 5
    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]


async def test_closed_connections_reconnect_with_backoff(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    options = TcpCameraOptions(close_after=5)
    async with TcpCamera(lambda i: vtest_jpegs[i % 40], options) as server:
        recorder, sources = Recorder(), _Sources()
        worker = CameraWorker(
            camera(CAMERA, server.url, reconnect={"initial_s": 0.05, "max_s": 0.1}),
            metrics=metrics,
            on_status=recorder.on_status,
            source_factory=sources,
        )
        worker.start()
        consumer = asyncio.create_task(recorder.consume(worker))
        try:
            await eventually(lambda: server.connections >= 3, 10, message="two reconnects")
            await eventually(
                lambda: recorder.states().count(CameraState.LIVE) >= 3, 5, message="live again"
            )
        finally:
            await worker.stop()
            await consumer

    states = recorder.states()
    assert states[:4] == [
        CameraState.CONNECTING,
        CameraState.LIVE,
        CameraState.ERROR,
        CameraState.CONNECTING,
    ]
    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "closed the connection" in error.reason
    assert error.retry_in_s is not None
    assert len(sources.made) >= 3  # a fresh source per connection


async def test_a_stream_of_noise_is_a_lost_stream(metrics: OrchestratorMetrics) -> None:
    async with TcpCamera(lambda i: noise(4096, seed=i)) as server:
        recorder = Recorder()
        worker = CameraWorker(
            camera(CAMERA, server.url, read_timeout_s=0.8),
            metrics=metrics,
            on_status=recorder.on_status,
        )
        worker.start()
        try:
            await eventually(
                lambda: CameraState.ERROR in recorder.states(), 5, message="no frame in time"
            )
        finally:
            await worker.stop()

    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert error.reason.startswith("no frame in ") and "bytes from tcp://127.0.0.1" in error.reason
    # Bytes kept arriving, but a connection that never delivers a frame never went live.
    assert CameraState.LIVE not in recorder.states()
