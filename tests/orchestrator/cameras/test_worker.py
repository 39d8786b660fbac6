"""CameraWorker's state machine, backoff, isolation of bad frames and hand-off, driven by
scripted in-process sources (the real-server tests are in test_rtsp/test_mjpeg)."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from orchestrator.cameras import (
    CameraState,
    CameraStatus,
    CameraWorker,
    FrameSource,
    SourceError,
    SourceFrame,
)
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.support.metrics import read_metric
from tests.support.polling import eventually
from trinetra.config import CameraConfig


class ScriptedSource:
    """A FrameSource whose opens and reads follow a script, paced at `fps`."""

    def __init__(
        self,
        frames: Callable[[int], NDArray[np.uint8] | Exception | None],
        *,
        fps: float = 50.0,
        fail_opens: int = 0,
        opens: list[int] | None = None,
    ) -> None:
        self._frames = frames
        self._interval = 1.0 / fps
        self._fail_opens = fail_opens
        self._opens = opens if opens is not None else []
        self._index = 0
        self._stop = threading.Event()

    def open(self) -> None:
        self._opens.append(1)
        if len(self._opens) <= self._fail_opens:
            raise SourceError(f"refused (open #{len(self._opens)})")

    def read(self) -> SourceFrame:
        if self._stop.wait(self._interval):
            raise SourceError("interrupted")
        item = self._frames(self._index)
        self._index += 1
        if isinstance(item, Exception):
            raise item
        return SourceFrame(item, None)

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        self._stop.set()


def _factory(make: Callable[[], FrameSource]) -> Callable[[CameraConfig], FrameSource]:
    return lambda _config: make()


async def _collect(worker: CameraWorker, recorder: Recorder, seconds: float) -> None:
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    await asyncio.sleep(seconds)
    await worker.stop()
    await consumer


async def test_failed_opens_back_off_then_go_live(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    opens: list[int] = []
    recorder = Recorder()
    config = camera("cam", "rtsp://127.0.0.1/x", reconnect={"initial_s": 0.05, "max_s": 0.2})
    worker = CameraWorker(
        config,
        metrics=metrics,
        on_status=recorder.on_status,
        rng=random.Random(7),
        source_factory=_factory(
            lambda: ScriptedSource(lambda i: vtest_frames[i % 40], fail_opens=4, opens=opens)
        ),
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(
            lambda: worker.state is CameraState.LIVE, 5, message="live after 4 failures"
        )
        await eventually(lambda: len(recorder.frames) >= 3, 5, message="frames")
    finally:
        await worker.stop()
        await consumer

    errors = [s for s in recorder.statuses if s.state is CameraState.ERROR]
    assert [s.attempt for s in errors] == [1, 2, 3, 4]
    # Full jitter under an exponentially growing, capped ceiling.
    for status in errors:
        ceiling = min(0.2, 0.05 * 2 ** (status.attempt - 1))
        assert status.retry_in_s is not None and 0 <= status.retry_in_s <= ceiling
        assert status.reason.startswith("refused")
    assert recorder.states()[-2:] == [CameraState.LIVE, CameraState.STOPPED]
    assert len(opens) == 5
    assert read_metric(metrics.registry, "trinetra_camera_reconnects_total", {"camera": "cam"}) == 4
    assert (
        read_metric(
            metrics.registry, "trinetra_camera_state", {"camera": "cam", "state": "stopped"}
        )
        == 1
    )
    assert (
        read_metric(metrics.registry, "trinetra_camera_state", {"camera": "cam", "state": "live"})
        == 0
    )


async def test_bad_frames_are_rejected_by_reason_and_never_fatal(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    black = np.zeros((576, 768, 3), np.uint8)
    white = np.full((576, 768, 3), 255, np.uint8)
    grey = np.full((576, 768, 3), 128, np.uint8)
    wrong_shape = np.zeros((576, 768), np.uint8)

    def script(i: int) -> NDArray[np.uint8] | None:
        bad: list[NDArray[np.uint8] | None] = [None, black, white, grey, wrong_shape]
        return bad[i % 5] if i % 2 else vtest_frames[i % 40]

    recorder = Recorder()
    worker = CameraWorker(
        camera("cam", "rtsp://127.0.0.1/x", target_fps=30, burst_tokens=30),
        metrics=metrics,
        on_status=recorder.on_status,
        source_factory=_factory(lambda: ScriptedSource(script, fps=40)),
    )
    await _collect(worker, recorder, 1.0)

    assert recorder.states() == [CameraState.CONNECTING, CameraState.LIVE, CameraState.STOPPED]
    reasons = {
        reason: read_metric(
            metrics.registry, "trinetra_frames_rejected_total", {"camera": "cam", "reason": reason}
        )
        for reason in ("undecodable", "black", "white", "blank", "bad_shape")
    }
    assert all(count >= 2 for count in reasons.values()), reasons
    assert len(recorder.frames) >= 10
    assert all(f.image.std() > 5 for f in recorder.frames)
    assert worker.validator.accepted == len(recorder.frames) + int(
        read_metric(
            metrics.registry, "trinetra_frames_dropped_total", {"camera": "cam", "reason": "burst"}
        )
        + read_metric(
            metrics.registry,
            "trinetra_frames_dropped_total",
            {"camera": "cam", "reason": "overwritten"},
        )
    )


async def test_unexpected_reader_errors_reconnect_instead_of_crashing(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    def script(i: int) -> NDArray[np.uint8] | Exception:
        return RuntimeError("decoder exploded") if i == 3 else vtest_frames[i % 40]

    recorder = Recorder()
    worker = CameraWorker(
        camera("cam", "rtsp://127.0.0.1/x", reconnect={"initial_s": 0.05, "max_s": 0.1}),
        metrics=metrics,
        on_status=recorder.on_status,
        source_factory=_factory(lambda: ScriptedSource(script)),
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(
            lambda: recorder.states().count(CameraState.LIVE) >= 2,
            5,
            message="a second live period",
        )
    finally:
        await worker.stop()
        await consumer
    error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
    assert "RuntimeError: decoder exploded" in error.reason


async def test_slow_consumer_gets_the_latest_frames(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    worker = CameraWorker(
        camera("cam", "rtsp://127.0.0.1/x", target_fps=30, burst_tokens=30, buffer_size=2),
        metrics=metrics,
        source_factory=_factory(lambda: ScriptedSource(lambda i: vtest_frames[i % 40], fps=30)),
    )
    worker.start()
    received = []
    try:
        await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
        for _ in range(5):
            await asyncio.sleep(0.3)  # a consumer far slower than the camera
            frame = await worker.buffer.get()
            received.append(frame)
            # Latest wins: what is handed out is fresh, not a backlog.
            assert time.monotonic() - frame.ingest_monotonic < 0.2
    finally:
        await worker.stop()
    assert len(worker.buffer) <= 2  # bounded: never a backlog
    assert (
        read_metric(
            metrics.registry,
            "trinetra_frames_dropped_total",
            {"camera": "cam", "reason": "overwritten"},
        )
        > 20
    )
    gaps = [b.seq - a.seq for a, b in itertools.pairwise(received)]
    assert all(gap > 1 for gap in gaps)


async def test_watchdog_abandons_a_reader_stuck_in_a_call(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    hang = threading.Event()
    release = threading.Event()

    class Stuck(ScriptedSource):
        def read(self) -> SourceFrame:
            if hang.is_set():
                release.wait(10)  # ignores interrupt(), like a native call without timeout
                raise SourceError("released")
            return super().read()

    recorder = Recorder()
    worker = CameraWorker(
        camera("cam", "rtsp://127.0.0.1/x", read_timeout_s=0.3, reconnect={"initial_s": 0.05}),
        metrics=metrics,
        on_status=recorder.on_status,
        watchdog_grace_s=0.2,
        source_factory=_factory(lambda: Stuck(lambda i: vtest_frames[i % 40])),
    )
    worker.start()
    consumer = asyncio.create_task(recorder.consume(worker))
    try:
        await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
        hang.set()
        await eventually(lambda: CameraState.ERROR in recorder.states(), 3, message="the watchdog")
        error = next(s for s in recorder.statuses if s.state is CameraState.ERROR)
        assert "no response" in error.reason
    finally:
        release.set()
        await worker.stop()
        await consumer


async def test_watch_iterates_status_changes_until_stop(
    vtest_frames: list[NDArray[np.uint8]], metrics: OrchestratorMetrics
) -> None:
    worker = CameraWorker(
        camera("cam", "rtsp://127.0.0.1/x"),
        metrics=metrics,
        source_factory=_factory(lambda: ScriptedSource(lambda i: vtest_frames[i % 40])),
    )
    seen: list[CameraStatus] = []

    async def watch() -> None:
        async for status in worker.watch():
            seen.append(status)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    worker.start()
    await eventually(lambda: worker.state is CameraState.LIVE, 5, message="live")
    await worker.stop()
    await asyncio.wait_for(watcher, 2)
    assert [s.state for s in seen] == [
        CameraState.CONNECTING,
        CameraState.LIVE,
        CameraState.STOPPED,
    ]
    assert all(s.camera_id == "cam" for s in seen)
    assert [s.timestamp for s in seen] == sorted(s.timestamp for s in seen)


async def test_async_status_callback_and_redacted_reasons(metrics: OrchestratorMetrics) -> None:
    published: list[CameraStatus] = []

    async def publish(status: CameraStatus) -> None:
        await asyncio.sleep(0)
        published.append(status)

    def refuse() -> Iterator[FrameSource]:
        while True:
            yield ScriptedSource(lambda i: None, fail_opens=10**6)

    sources = refuse()
    config = camera("cam", "rtsp://admin:hunter2@127.0.0.1:1/x", reconnect={"initial_s": 0.05})
    worker = CameraWorker(
        config,
        metrics=metrics,
        on_status=publish,
        source_factory=lambda _c: next(sources),
    )
    worker.start()
    await eventually(lambda: len(published) >= 4, 5, message="statuses")
    await worker.stop()
    assert all("hunter2" not in s.reason for s in published)
    assert any("admin:***@127.0.0.1" in s.reason for s in published)
