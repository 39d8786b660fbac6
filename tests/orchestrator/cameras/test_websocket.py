"""WebSocket source against a real WebSocket server (websockets) streaming JPEGs of real
video: binary and base64 messages, heartbeat, message size limit, reconnects."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.cameras import CameraState, CameraWorker, SourceError, WebSocketSource
from orchestrator.cameras.websocket import decode_base64_image
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.orchestrator.cameras.websocket_camera import (
    Message,
    WebSocketCamera,
    WebSocketCameraOptions,
)
from tests.support.metrics import read_metric
from tests.support.polling import eventually

CAMERA = "kiosk-ws"


def _worker(
    url: str, metrics: OrchestratorMetrics, recorder: Recorder, **overrides: Any
) -> CameraWorker:
    overrides.setdefault("target_fps", 30)
    overrides.setdefault("burst_tokens", 30)
    return CameraWorker(
        camera(CAMERA, url, **overrides), metrics=metrics, on_status=recorder.on_status
    )


def _undecodable(metrics: OrchestratorMetrics) -> float:
    return read_metric(
        metrics.registry,
        "trinetra_frames_rejected_total",
        {"camera": CAMERA, "reason": "undecodable"},
    )


async def _run_for(worker: CameraWorker, recorder: Recorder, seconds: float) -> None:
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: len(recorder.frames) >= 1, 5, message="the first frame")
        await asyncio.sleep(seconds)
    finally:
        await worker.stop()
        await consumer


async def test_binary_messages_are_frames_and_answered_pings_keep_it_live(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    async with WebSocketCamera(lambda i: vtest_jpegs[i % 40]) as server:
        recorder = Recorder()
        # Pings every 0.2 s: several round trips happen, none may break the stream.
        options = {"ping_interval_s": 0.2, "ping_timeout_s": 0.5}
        worker = _worker(server.url, metrics, recorder, websocket=options)
        await _run_for(worker, recorder, 1.5)

    assert worker.config.source_kind.value == "websocket"
    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]
    assert server.connections == 1
    assert len(recorder.frames) >= 20
    first = recorder.frames[0]
    assert first.image.shape == (576, 768, 3)
    assert first.capture_ts is None and first.effective_timestamp == first.ingest_ts
    assert _undecodable(metrics) == 0


async def test_base64_text_messages_are_frames(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    def message(i: int) -> Message:
        text = base64.b64encode(vtest_jpegs[i % 40]).decode("ascii")
        return f"data:image/jpeg;base64,{text}" if i % 2 else text  # both forms

    async with WebSocketCamera(message) as server:
        recorder = Recorder()
        worker = _worker(server.url, metrics, recorder, websocket={"encoding": "base64"})
        await _run_for(worker, recorder, 1.0)

    assert len(recorder.frames) >= 15
    assert recorder.frames[0].image.shape == (576, 768, 3)
    assert _undecodable(metrics) == 0


@pytest.mark.parametrize(
    ("encoding", "bad"),
    [
        ("binary", lambda i: b"\xff\xd8 not a jpeg " + bytes(range(256))),
        ("binary", lambda i: "a text message on a binary camera"),
        ("base64", lambda i: "!!! not base64 !!!"),
        ("base64", lambda i: base64.b64encode(b"valid base64, not an image").decode()),
        ("base64", lambda i: b"\xff\xd8 binary on a base64 camera"),
    ],
    ids=["garbage", "text-on-binary", "bad-base64", "base64-non-image", "binary-on-base64"],
)
async def test_non_image_payloads_are_counted_as_undecodable(
    vtest_jpegs: list[bytes],
    metrics: OrchestratorMetrics,
    encoding: str,
    bad: Callable[[int], Message],
) -> None:
    def message(i: int) -> Message:
        if i % 3 == 2:
            return bad(i)
        jpeg = vtest_jpegs[i % 40]
        return jpeg if encoding == "binary" else base64.b64encode(jpeg).decode()

    async with WebSocketCamera(message) as server:
        recorder = Recorder()
        worker = _worker(server.url, metrics, recorder, websocket={"encoding": encoding})
        await _run_for(worker, recorder, 1.5)
        sent = server.sent

    assert _undecodable(metrics) >= sent // 3 - 2
    assert len(recorder.frames) >= 15
    # Bad payloads are rejects, never a reason to drop the connection.
    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]
    assert server.connections == 1


async def test_an_oversized_message_ends_the_connection_and_it_reconnects(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    limit = 256 * 1024
    oversized = vtest_jpegs[0] + bytes(limit)  # a JPEG with trailing padding

    def message(i: int) -> Message:
        return oversized if i == 5 else vtest_jpegs[i % 40]

    async with WebSocketCamera(message) as server:
        recorder = Recorder()
        worker = _worker(
            server.url,
            metrics,
            recorder,
            websocket={"max_message_bytes": limit},
            reconnect={"initial_s": 0.1, "max_s": 0.2},
        )
        worker.start()
        consumer = asyncio.create_task(recorder.consume(worker))
        try:
            await eventually(lambda: server.connections >= 2, 5, message="a reconnect")
            await eventually(
                lambda: recorder.states().count(CameraState.LIVE) >= 2, 5, message="live again"
            )
        finally:
            await worker.stop()
            await consumer

    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "max_message_bytes" in error.reason and str(limit) in error.reason
    assert error.retry_in_s is not None
    assert len(recorder.frames) >= 5
    assert (
        read_metric(metrics.registry, "trinetra_camera_reconnects_total", {"camera": CAMERA}) >= 1
    )


async def test_server_restart_goes_error_backoff_connecting_then_live(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    server = WebSocketCamera(lambda i: vtest_jpegs[i % 40])
    await server.start()
    recorder = Recorder()
    worker = _worker(server.url, metrics, recorder, reconnect={"initial_s": 0.1, "max_s": 0.3})
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
        await server.stop()
        await eventually(
            lambda: len([s for s in recorder.statuses if s.state is CameraState.ERROR]) >= 3,
            10,
            message="failed reconnects while the server is down",
        )
        frames_while_down = len(recorder.frames)
        await server.start()  # same port
        await eventually(
            lambda: recorder.states().count(CameraState.LIVE) >= 2, 10, message="live again"
        )
        await eventually(
            lambda: len(recorder.frames) > frames_while_down + 3, 5, message="new frames"
        )
    finally:
        await worker.stop()
        await consumer
        await server.stop()

    states = recorder.states()
    first_error = states.index(CameraState.ERROR)
    assert states[:first_error] == [CameraState.CONNECTING, CameraState.LIVE]
    # While the server was away: error -> (backoff) -> connecting, over and over.
    cycle = states[first_error : states.index(CameraState.LIVE, first_error)]
    assert cycle[::2] == [CameraState.ERROR] * len(cycle[::2])
    assert cycle[1::2] == [CameraState.CONNECTING] * len(cycle[1::2])
    errors = [s for s in recorder.statuses if s.state is CameraState.ERROR]
    assert "code 1001" in errors[0].reason  # the server said it was going away
    assert all("cannot open" in s.reason for s in errors[1:])
    assert [s.attempt for s in errors] == list(range(1, len(errors) + 1))
    assert all(s.retry_in_s is not None and s.retry_in_s <= 0.3 for s in errors)
    assert server.connections == 2


async def test_a_peer_that_never_answers_pings_is_disconnected(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    options = WebSocketCameraOptions(answer_pings=False)
    async with WebSocketCamera(lambda i: vtest_jpegs[i % 40], options) as server:
        recorder = Recorder()
        worker = _worker(
            server.url,
            metrics,
            recorder,
            websocket={"ping_interval_s": 0.2, "ping_timeout_s": 0.3},
        )
        worker.start()
        consumer = asyncio.create_task(recorder.consume(worker))
        try:
            await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
            live_at = time.monotonic()
            await eventually(
                lambda: CameraState.ERROR in recorder.states(), 5, message="the heartbeat"
            )
            failed_after = time.monotonic() - live_at
        finally:
            await worker.stop()
            await consumer

    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "heartbeat" in error.reason
    # Frames kept arriving: it was the heartbeat, not the 3 s read timeout, that ended it.
    assert failed_after < 2.9
    assert len(recorder.frames) >= 3


async def test_a_silent_server_times_out(
    vtest_jpegs: list[bytes], metrics: OrchestratorMetrics
) -> None:
    options = WebSocketCameraOptions(stall_after=3)
    async with WebSocketCamera(lambda i: vtest_jpegs[i % 40], options) as server:
        recorder = Recorder()
        worker = _worker(server.url, metrics, recorder, read_timeout_s=0.6)
        worker.start()
        try:
            await eventually(
                lambda: CameraState.ERROR in recorder.states(), 5, message="read timeout"
            )
        finally:
            await worker.stop()
    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "no message" in error.reason and "0.6 s" in error.reason


async def test_refusals_and_redirects_fail_clearly(vtest_jpegs: list[bytes]) -> None:
    async with (
        WebSocketCamera(lambda i: vtest_jpegs[0]) as target,
        WebSocketCamera(lambda i: b"", WebSocketCameraOptions(refuse_with=403)) as refusing,
        WebSocketCamera(
            lambda i: b"", WebSocketCameraOptions(redirect_to=target.url)
        ) as redirecting,
    ):
        cases: list[tuple[str, str]] = [
            (target.url.replace("/stream", "/nope"), "HTTP 404"),
            (refusing.url, "HTTP 403"),
            # A redirect could lead anywhere, the SSRF allowlist only vetted the camera URL.
            (redirecting.url, r"redirected \(HTTP 302\); redirects are not followed"),
        ]
        for url, message in cases:
            source = WebSocketSource(url, open_timeout_s=2)
            with pytest.raises(SourceError, match=message):
                await asyncio.to_thread(source.open)
            source.close()
        assert redirecting.requests == 1
        assert target.connections == 0  # the redirect was not followed

    refused = WebSocketSource(target.url, open_timeout_s=1)
    with pytest.raises(SourceError, match="cannot open"):
        await asyncio.to_thread(refused.open)
    refused.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (base64.b64encode(b"\xff\xd8abc").decode(), b"\xff\xd8abc"),
        ("data:image/jpeg;base64," + base64.b64encode(b"xyz").decode(), b"xyz"),
        ("data:image/jpeg," + base64.b64encode(b"xyz").decode(), None),  # not base64
        ("not base64!", None),
        ("caf\u00e9", None),
    ],
)
def test_decode_base64_image(text: str, expected: bytes | None) -> None:
    assert decode_base64_image(text) == expected
