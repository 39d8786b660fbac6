"""CameraWorker against a real RTSP server (GStreamer, H.264 over TCP on loopback)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from orchestrator.cameras import CameraState, CameraWorker
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.support.metrics import read_metric
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer


async def test_reads_frames_from_a_real_rtsp_server(
    rtsp_server: RtspServer, metrics: OrchestratorMetrics
) -> None:
    recorder = Recorder()
    worker = CameraWorker(
        camera("entrance-1", rtsp_server.url, role="entrance", target_fps=10),
        metrics=metrics,
        on_status=recorder.on_status,
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: len(recorder.frames) >= 1, 10, message="the first RTSP frame")
        first_count = len(recorder.frames)
        await asyncio.sleep(2.0)
        window = recorder.frames[first_count:]
    finally:
        await worker.stop()
        await consumer

    assert recorder.states()[:2] == [CameraState.CONNECTING, CameraState.LIVE]
    assert recorder.states()[-1] is CameraState.STOPPED
    frame = recorder.frames[0]
    assert frame.image.shape == (576, 768, 3)
    assert frame.image.dtype.name == "uint8"
    assert frame.camera_id == "entrance-1"
    # RTSP has no camera clock through OpenCV: effective time is the ingest time.
    assert frame.capture_ts is None
    assert frame.effective_timestamp == frame.ingest_ts
    # The server sends 25 fps; the token bucket holds the camera at its 10 fps target.
    assert 14 <= len(window) <= 26, len(window)
    seqs = [f.seq for f in recorder.frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert read_metric(
        metrics.registry, "trinetra_frames_in_total", {"camera": "entrance-1"}
    ) >= len(recorder.frames)
    assert (
        read_metric(
            metrics.registry,
            "trinetra_frames_dropped_total",
            {"camera": "entrance-1", "reason": "burst"},
        )
        > 0
    )


async def test_server_death_is_an_error_and_frames_resume_after_restart(
    rtsp_server_factory: Callable[..., RtspServer], metrics: OrchestratorMetrics
) -> None:
    server = rtsp_server_factory()
    recorder = Recorder()
    worker = CameraWorker(
        camera("billing-1", server.url, role="billing", read_timeout_s=3),
        metrics=metrics,
        on_status=recorder.on_status,
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: worker.state is CameraState.LIVE, 10, message="live")
        await eventually(lambda: len(recorder.frames) >= 5, 5, message="frames before the crash")

        await asyncio.to_thread(server.kill)
        killed_at = time.monotonic()
        await eventually(
            lambda: CameraState.ERROR in recorder.states(), 5, message="the error state"
        )
        error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
        assert error.attempt == 1
        assert error.retry_in_s is not None and 0 <= error.retry_in_s <= 0.2
        # The stream ends, stops delivering, or its last frames arrive cut off (undecodable).
        assert any(why in error.reason for why in ("ended", "no frame", "failing to decode"))
        # While the server is down every reconnect fails and is counted.
        await asyncio.sleep(1.5)
        frames_while_down = len(recorder.frames)
        assert all(f.ingest_monotonic < killed_at + 0.5 for f in recorder.frames)

        await asyncio.to_thread(server.start)  # same port
        back_at = time.monotonic()
        await eventually(
            lambda: len(recorder.frames) > frames_while_down, 5, message="frames after the restart"
        )
        resumed_after = time.monotonic() - back_at
    finally:
        await worker.stop()
        await consumer

    print(f"frames resumed {resumed_after:.2f} s after the server came back")
    assert resumed_after < 5.0
    new_frames = recorder.frames[frames_while_down:]
    assert all(f.ingest_monotonic >= back_at for f in new_frames)
    # seq keeps increasing across the reconnect.
    assert new_frames[0].seq > recorder.frames[frames_while_down - 1].seq
    states = recorder.states()
    assert states.count(CameraState.LIVE) >= 2
    assert (
        read_metric(metrics.registry, "trinetra_camera_reconnects_total", {"camera": "billing-1"})
        >= 2
    )
    assert (
        read_metric(
            metrics.registry, "trinetra_camera_state", {"camera": "billing-1", "state": "stopped"}
        )
        == 1.0
    )
