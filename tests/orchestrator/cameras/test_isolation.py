"""Camera isolation: dead and hung cameras must not slow healthy ones or the event loop.

Five workers at once on one event loop: three healthy real sources (RTSP from GStreamer,
a looping video file, an HTTP MJPEG camera) beside a dead RTSP URL (connection refused,
reconnecting all the time) and a hung one (accepts TCP, never answers, so every open
blocks its reader until the open timeout). The hung camera starts first: its blocked
open must not delay the others' opens (OpenCV serializes opens process-wide unless
OPENCV_FFMPEG_IS_THREAD_SAFE is set, see orchestrator.cameras.opencv_sources).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from devservices.mjpeg import MjpegServer
from devservices.ports import free_port
from devservices.rtsp import RtspServer
from orchestrator.cameras import CameraState, CameraWorker
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.support.media import media_path
from tests.support.metrics import read_metric
from tests.support.polling import eventually

WINDOW_S = 4.0
TARGET_FPS = 10.0


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts connections and never sends a byte (a hung camera)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


async def test_healthy_cameras_keep_their_rate_beside_dead_and_hung_ones(
    rtsp_server: RtspServer,
    vtest_jpegs: list[bytes],
    blackhole: int,
    metrics: OrchestratorMetrics,
) -> None:
    with MjpegServer(vtest_jpegs) as mjpeg:
        healthy = {
            "rtsp": camera("rtsp", rtsp_server.url, target_fps=TARGET_FPS),
            "file": camera("file", str(media_path("vtest.avi")), target_fps=TARGET_FPS, loop=True),
            "mjpeg": camera("mjpeg", mjpeg.url, target_fps=TARGET_FPS),
        }
        broken = {
            "dead": camera("dead", f"rtsp://127.0.0.1:{free_port()}/none"),
            "hung": camera(
                "hung", f"rtsp://127.0.0.1:{blackhole}/stream", open_timeout_s=6, read_timeout_s=2
            ),
        }
        recorders = {name: Recorder() for name in (*healthy, *broken)}
        workers = {
            name: CameraWorker(config, metrics=metrics, on_status=recorders[name].on_status)
            for name, config in {**healthy, **broken}.items()
        }
        workers["hung"].start()
        await asyncio.sleep(0.3)  # its reader is now blocked inside OpenCV's open()
        for worker in workers.values():
            worker.start()
        consumers = [
            asyncio.create_task(recorders[name].consume(worker)) for name, worker in workers.items()
        ]

        # The event loop must stay responsive throughout: measure its worst lag.
        lag = [0.0]
        stop_probe = asyncio.Event()

        async def probe() -> None:
            while not stop_probe.is_set():
                before = time.monotonic()
                await asyncio.sleep(0.01)
                lag[0] = max(lag[0], time.monotonic() - before - 0.01)

        prober = asyncio.create_task(probe())
        try:
            # Well before the hung camera's 6 s open timeout: opens do not queue behind it.
            opened_at = time.monotonic()
            await eventually(
                lambda: all(workers[name].state is CameraState.LIVE for name in healthy),
                4.5,
                message="all healthy cameras live",
            )
            live_after = time.monotonic() - opened_at
            await asyncio.sleep(1.0)  # past the initial token burst
            started = time.monotonic()
            await asyncio.sleep(WINDOW_S)
            ended = time.monotonic()
        finally:
            stop_probe.set()
            await prober
            await asyncio.gather(*(worker.stop() for worker in workers.values()))
            await asyncio.gather(*consumers)

    expected = TARGET_FPS * WINDOW_S
    counts = {
        name: sum(started <= f.ingest_monotonic < ended for f in recorders[name].frames)
        for name in healthy
    }
    print(
        f"healthy cameras live after {live_after:.2f} s; frames in {WINDOW_S} s: {counts}; "
        f"worst event-loop lag {lag[0] * 1000:.0f} ms"
    )
    for name, count in counts.items():
        assert count >= 0.8 * expected, f"{name} delivered {count} frames, expected ~{expected}"
        assert count <= 1.2 * expected + 2, f"{name} exceeded its target rate: {count}"
    assert lag[0] < 0.25

    for name in broken:
        assert recorders[name].frames == []
        assert CameraState.LIVE not in recorders[name].states()
        assert CameraState.ERROR in recorders[name].states()
    # The dead camera keeps retrying; the hung one failed its open at least once.
    assert (
        read_metric(metrics.registry, "trinetra_camera_reconnects_total", {"camera": "dead"}) >= 3
    )
    hung_errors = [s for s in recorders["hung"].statuses if s.state is CameraState.ERROR]
    assert hung_errors and "cannot open" in hung_errors[0].reason
    assert "after 6." in hung_errors[0].reason  # it really sat in open() for its timeout
