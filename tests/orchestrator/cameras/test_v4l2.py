"""USB/V4L2 source. The test machines have no camera device, so what is tested here is
what can be without one: configuration, the errors for a missing or wrong device (real
opens of real paths), and that the reader goes through the worker's state machine
(connecting -> error -> backoff -> connecting). Reading frames from a device is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.cameras import CameraState, CameraWorker, SourceError, V4l2Source, open_source
from orchestrator.metrics import OrchestratorMetrics
from tests.orchestrator.cameras.helpers import Recorder, camera
from tests.support.metrics import read_metric
from tests.support.polling import eventually

MISSING = "/dev/video97"


@pytest.fixture
def no_device() -> str:
    if os.path.exists(MISSING):
        pytest.skip(f"{MISSING} exists on this machine")
    return MISSING


def test_usb_configs_build_v4l2_sources() -> None:
    by_index = camera(
        "desk", "2", usb={"resolution": "1280x720", "fps": 30, "pixel_format": "MJPG"}
    )
    assert by_index.source == "2" and by_index.device == 2
    by_path = camera("door", "/dev/v4l/by-id/usb-cam-video-index0", stream_type="usb")
    assert by_path.device == "/dev/v4l/by-id/usb-cam-video-index0"
    for config in (by_index, by_path, camera("shelf", "/dev/video0")):
        assert config.source_kind.value == "usb"
        assert isinstance(open_source(config), V4l2Source)
    assert by_index.usb is not None and by_index.usb.resolution == (1280, 720)


def test_a_missing_device_is_named_clearly(no_device: str) -> None:
    for device in (no_device, 97):
        source = V4l2Source(device)
        with pytest.raises(SourceError, match=f"V4L2 device {no_device} does not exist"):
            source.open()
        source.close()


def test_a_file_that_is_not_a_device_is_refused(tmp_path: Path) -> None:
    not_a_device = tmp_path / "video0"
    not_a_device.write_bytes(b"")
    with pytest.raises(SourceError, match="is not a V4L2 device"):
        V4l2Source(str(not_a_device)).open()


def test_a_character_device_that_is_no_camera_is_refused() -> None:
    # /dev/null exists, is a character device and may be opened: only V4L2 can say no.
    with pytest.raises(SourceError, match="cannot open /dev/null as a V4L2 camera"):
        V4l2Source("/dev/null").open()


async def test_a_missing_device_goes_through_the_state_machine(
    no_device: str, metrics: OrchestratorMetrics
) -> None:
    recorder = Recorder()
    worker = CameraWorker(
        camera("desk", no_device, reconnect={"initial_s": 0.05, "max_s": 0.1}),
        metrics=metrics,
        on_status=recorder.on_status,
    )
    worker.start()
    try:
        await eventually(
            lambda: recorder.states().count(CameraState.ERROR) >= 3, 5, message="3 failed opens"
        )
    finally:
        await worker.stop()

    states = recorder.states()
    assert states[:6] == [CameraState.CONNECTING, CameraState.ERROR] * 3
    assert states[-1] is CameraState.STOPPED
    errors = [s for s in recorder.statuses if s.state is CameraState.ERROR]
    assert all("does not exist" in s.reason for s in errors)
    assert [s.attempt for s in errors[:3]] == [1, 2, 3]
    assert all(s.retry_in_s is not None and s.retry_in_s <= 0.1 for s in errors)
    assert (
        read_metric(metrics.registry, "trinetra_camera_reconnects_total", {"camera": "desk"}) >= 3
    )
    assert not worker.running
