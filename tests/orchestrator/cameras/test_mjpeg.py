"""HTTP MJPEG source against a real stdlib HTTP server streaming JPEGs of real video."""

from __future__ import annotations

import asyncio
import time

import pytest

from devservices.mjpeg import MjpegOptions, MjpegServer
from orchestrator.cameras import CameraState, CameraWorker, MjpegSource, SourceError
from orchestrator.cameras.mjpeg import parse_boundary
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.support.metrics import read_metric
from tests.support.polling import eventually


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("multipart/x-mixed-replace; boundary=frame", "frame"),
        ('multipart/x-mixed-replace;boundary="--myboundary"', "myboundary"),
        ("Multipart/X-Mixed-Replace; charset=x; Boundary=abc", "abc"),
        ("image/jpeg", None),
        ("multipart/x-mixed-replace", None),
    ],
)
def test_parse_boundary(header: str, expected: str | None) -> None:
    assert parse_boundary(header) == expected


async def _run(server: MjpegServer, metrics: OrchestratorMetrics, seconds: float) -> Recorder:
    recorder = Recorder()
    worker = CameraWorker(
        camera("aisle-3", server.url, target_fps=10),
        metrics=metrics,
        on_status=recorder.on_status,
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: len(recorder.frames) >= 1, 5, message="the first MJPEG frame")
        await asyncio.sleep(seconds)
    finally:
        await worker.stop()
        await consumer
    return recorder


@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "scan"])
async def test_worker_reads_mjpeg_parts(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics, content_length: bool
) -> None:
    options = MjpegOptions(fps=10, content_length=content_length)
    with MjpegServer(vtest_jpegs, options) as server:
        recorder = await _run(server, metrics, 1.0)

    assert recorder.states()[:2] == [CameraState.CONNECTING, CameraState.LIVE]
    assert len(recorder.frames) >= 8
    first = recorder.frames[0]
    assert first.image.shape == (576, 768, 3)
    # The camera's X-Timestamp header is the capture time, slightly before ingest.
    assert first.capture_ts is not None
    assert first.effective_timestamp == first.capture_ts
    assert 0 <= first.ingest_ts - first.capture_ts < 1.0
    # Parts decode to the frames that were sent (JPEG is lossy: compare loosely).
    assert abs(float(first.image.mean()) - float(recorder.frames[1].image.mean())) < 5
    assert (
        read_metric(
            metrics.registry,
            "trinetra_frames_rejected_total",
            {"camera": "aisle-3", "reason": "undecodable"},
        )
        == 0
    )


async def test_corrupt_parts_are_counted_and_never_fatal(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    options = MjpegOptions(fps=20, corrupt_every=3)
    with MjpegServer(vtest_jpegs, options) as server:
        recorder = await _run(server, metrics, 1.5)
        sent = server.parts_sent

    undecodable = read_metric(
        metrics.registry,
        "trinetra_frames_rejected_total",
        {"camera": "aisle-3", "reason": "undecodable"},
    )
    assert undecodable >= sent // 3 - 2
    assert len(recorder.frames) >= 12
    # One connection throughout: corrupt parts did not make the worker reconnect.
    assert recorder.states().count(CameraState.LIVE) == 1
    assert CameraState.ERROR not in recorder.states()


async def test_stalled_camera_times_out_and_reconnects(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    options = MjpegOptions(fps=20, stall_after=5)
    with MjpegServer(vtest_jpegs, options) as server:
        recorder = Recorder()
        worker = CameraWorker(
            camera("aisle-3", server.url, read_timeout_s=0.8),
            metrics=metrics,
            on_status=recorder.on_status,
        )
        worker.start()
        consumer = asyncio.create_task(recorder.consume(worker))
        try:
            await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
            live_at = time.monotonic()
            await eventually(
                lambda: CameraState.ERROR in recorder.states(), 5, message="read timeout"
            )
            stalled_for = time.monotonic() - live_at
            await eventually(lambda: server.connections >= 2, 5, message="a reconnect")
        finally:
            await worker.stop()
            await consumer

    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "no data" in error.reason
    assert stalled_for < 3.0
    assert 1 <= len(recorder.frames) <= 5 * 2


def test_non_mjpeg_and_missing_streams_fail_clearly(vtest_jpegs: list[bytes]) -> None:
    with MjpegServer(vtest_jpegs) as server:
        missing = MjpegSource(server.url.replace("/video", "/nope"), open_timeout_s=2)
        with pytest.raises(SourceError, match="HTTP 404"):
            missing.open()
        missing.close()
        still = MjpegSource(server.url.replace("/video", "/snapshot.jpg"), open_timeout_s=2)
        with pytest.raises(SourceError, match=r"not an MJPEG stream \(Content-Type: image/jpeg\)"):
            still.open()
        still.close()

    refused = MjpegSource(f"http://127.0.0.1:{server.port}/video", open_timeout_s=1)
    with pytest.raises(SourceError, match="cannot open"):
        refused.open()
    refused.close()
