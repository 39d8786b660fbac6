"""USB camera source: a local V4L2 device read through OpenCV's V4L2 backend.

The device is a path (`/dev/video0`, or a stable udev name such as
`/dev/v4l/by-id/usb-...-video-index0`, which survives replugging and reboots where the
index may not) or an index N, meaning /dev/videoN. `usb.resolution`, `usb.fps` and
`usb.pixel_format` are requested from the driver when set; a driver may choose the
nearest mode it has, so the mode obtained is logged when it differs.

Before OpenCV is asked, the device is checked, so that a missing camera reads as one:
absent (unplugged, or not passed into the container), not a character device, or not
accessible (the process needs to be in the device's group, usually `video`). An unplugged
camera fails `read()`; the worker reconnects with backoff, and the camera comes back when
the device does. OpenCV gives V4L2 frames no capture time: frames carry the ingest time.

OpenCV's V4L2 backend waits up to 10 s for a frame (its select() timeout) and has no
read-timeout property; a device that stalls longer is left to the worker's watchdog.
"""

from __future__ import annotations

import logging
import os
import stat

import cv2
import numpy as np

from orchestrator.cameras.source import SourceError, SourceFrame

__all__ = ["V4l2Source", "device_path"]

log = logging.getLogger(__name__)


def device_path(device: str | int) -> str:
    """The device node of `device` (an index N is /dev/videoN)."""
    return f"/dev/video{device}" if isinstance(device, int) else device


def check_device(path: str) -> None:
    """Raise SourceError unless `path` is a character device this process may open."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SourceError(
            f"V4L2 device {path} does not exist (camera unplugged, or not passed to this "
            "host or container)"
        ) from None
    except OSError as exc:
        raise SourceError(f"cannot inspect V4L2 device {path}: {exc}") from exc
    if not stat.S_ISCHR(mode):
        raise SourceError(f"{path} is not a V4L2 device (not a character device)")
    if not os.access(path, os.R_OK | os.W_OK):
        raise SourceError(
            f"no permission to open V4L2 device {path} (add this user to its group, "
            "usually 'video')"
        )


class V4l2Source:
    """A local USB/V4L2 camera (FrameSource; module docs)."""

    def __init__(
        self,
        device: str | int,
        *,
        resolution: tuple[int, int] | None = None,
        fps: float | None = None,
        pixel_format: str | None = None,
    ) -> None:
        self._device = device
        self._path = device_path(device)
        self._resolution = resolution
        self._fps = fps
        self._pixel_format = pixel_format
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        check_device(self._path)
        # An index opens by index (how OpenCV enumerates cameras), a path by name.
        capture = cv2.VideoCapture(self._device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self._path} as a V4L2 camera")
        self._configure(capture)
        self._capture = capture

    def _configure(self, capture: cv2.VideoCapture) -> None:
        # The pixel format first: drivers offer different sizes and rates per format.
        if self._pixel_format is not None:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self._pixel_format))
        if self._resolution is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._resolution[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._resolution[1])
        if self._fps is not None:
            capture.set(cv2.CAP_PROP_FPS, self._fps)
        # One driver buffer: the worker wants the newest frame, not a queue of old ones.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        wanted_size = self._resolution is not None and (width, height) != self._resolution
        wanted_fps = self._fps is not None and abs(fps - self._fps) > 0.5
        if wanted_size or wanted_fps:
            log.warning(
                "V4L2 device chose another mode",
                extra={
                    "device": self._path,
                    "requested": f"{self._resolution} @ {self._fps}",
                    "obtained": f"{width}x{height} @ {fps:g}",
                },
            )

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceError("read before open")
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"V4L2 device {self._path} stopped delivering frames (unplugged?)")
        return SourceFrame(np.asarray(image, np.uint8), None)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def interrupt(self) -> None:
        # As for RTSP: releasing a capture another thread reads is unsafe in OpenCV; a
        # live camera returns within a frame interval, a stalled one within 10 s.
        pass
