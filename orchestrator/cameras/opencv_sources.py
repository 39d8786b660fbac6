"""RTSP and video-file sources, decoded by OpenCV's FFmpeg backend.

RTSP: always over TCP (interleaved in the RTSP connection): UDP loses packets on busy
store networks and shows up as smeared macroblocks. Open and read timeouts go to FFmpeg
through CAP_PROP_OPEN_TIMEOUT_MSEC / CAP_PROP_READ_TIMEOUT_MSEC, so a dead or silent camera
fails within its configured time instead of blocking for FFmpeg's 30 s default. When the
server goes away, `read()` returns False for good: the source raises SourceError and the
worker opens a new capture.

Observed with opencv-python-headless 4.11.0.86: with OPENCV_FFMPEG_CAPTURE_OPTIONS set,
RTSP runs over TCP only (even `rtsp_transport;udp` gave a TCP session), and the probe
options made no measurable difference. Time to the first frame is FFmpeg estimating the
frame rate from ~20 frames: ~0.9 s for a 25 fps camera, ~2.8 s at 10 fps.

Files: paced in real time (a file stands in for a camera in demos and tests), optionally
looping, decimated to the target fps with `grab()` (which skips colour conversion).
"""

from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np

from orchestrator.cameras.source import EndOfStream, SourceError, SourceFrame
from trinetra.config.secrets import mask_source

__all__ = ["FFMPEG_CAPTURE_OPTIONS", "FileSource", "RtspSource", "ensure_ffmpeg_capture_options"]

FFMPEG_CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000|probesize;65536"

_OPTIONS_LOCK = threading.Lock()


def ensure_ffmpeg_capture_options() -> None:
    """Set OpenCV's FFmpeg environment unless the operator already did.

    OPENCV_FFMPEG_CAPTURE_OPTIONS: read at every open, so it must be in place before the
    first capture.

    OPENCV_FFMPEG_IS_THREAD_SAFE=1: without it OpenCV holds one process-wide mutex for the
    whole of every open() (connect + stream probing), so a hung camera blocked every other
    camera's connect and reconnect for its full open timeout (measured: a healthy RTSP
    open took 4.85 s instead of 1.14 s beside a 4 s hung open). FFmpeg itself has been
    safe for concurrent opens since 4.0 (its lock manager was removed); the wheel ships 5.1.
    OpenCV logs a warning at each open when this is set.

    Set under a lock so concurrent reader threads never race on setenv.
    """
    with _OPTIONS_LOCK:
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_CAPTURE_OPTIONS)
        os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")


ensure_ffmpeg_capture_options()


def _open_capture(target: str, open_timeout_s: float, read_timeout_s: float) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        max(1, int(open_timeout_s * 1000)),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        max(1, int(read_timeout_s * 1000)),
    ]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


# Consecutive undecodable frames tolerated before the stream is treated as broken.
MAX_CONSECUTIVE_DECODE_ERRORS = 25


class RtspSource:
    """An RTSP(S) camera read over TCP (FrameSource)."""

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        display_url: str | None = None,
    ) -> None:
        self._url = url
        self._display = display_url if display_url is not None else mask_source(url)
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._capture: cv2.VideoCapture | None = None
        self._decode_errors = 0

    def open(self) -> None:
        ensure_ffmpeg_capture_options()
        started = time.monotonic()
        capture = _open_capture(self._url, self._open_timeout_s, self._read_timeout_s)
        if not capture.isOpened():
            capture.release()
            elapsed = time.monotonic() - started
            raise SourceError(f"cannot open {self._display} (after {elapsed:.1f} s)")
        self._capture = capture

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceError("read before open")
        started = time.monotonic()
        try:
            ok, image = self._capture.read()
        except cv2.error as exc:
            # A frame FFmpeg could not turn into a picture (seen on the first frames of a
            # fresh H.264 session): a corrupt frame, counted by the validator, not a lost
            # stream, unless it keeps happening.
            self._decode_errors += 1
            if self._decode_errors > MAX_CONSECUTIVE_DECODE_ERRORS:
                raise SourceError(f"{self._display}: frames keep failing to decode: {exc}") from exc
            return SourceFrame(None, None)
        self._decode_errors = 0
        if not ok or image is None:
            elapsed = time.monotonic() - started
            if elapsed >= self._read_timeout_s * 0.9:
                raise SourceError(f"no frame from {self._display} for {elapsed:.1f} s")
            raise SourceError(f"stream from {self._display} ended (server closed or lost)")
        # OpenCV gives no RTP/NTP wall time for RTSP frames: capture time stays unknown.
        return SourceFrame(np.asarray(image, np.uint8), None)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def interrupt(self) -> None:
        # Releasing a capture while another thread reads it is unsafe in OpenCV; a live
        # stream returns a frame within a frame interval, a dead one within the read
        # timeout, and the reader thread checks its stop flag after every read.
        pass


class FileSource:
    """A video file played back in real time, like a camera (FrameSource).

    Emits at min(file fps, target fps). `capture_ts` is the wall time the playback was
    anchored at plus the frame's media position (monotonic across loops), so timestamps
    follow the media timing rather than the reader's scheduling jitter.
    """

    def __init__(
        self,
        path: str,
        *,
        target_fps: float | None = None,
        loop: bool = False,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self._path = path
        self._target_fps = target_fps
        self._loop = loop
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._capture: cv2.VideoCapture | None = None
        self._interrupted = threading.Event()
        self._frame_interval = 0.1
        self._emit_interval = 0.1
        self._offset = 0.0  # media seconds of the previous passes through the file
        self._last_pos = 0.0  # media seconds of the last grabbed frame in this pass
        self._grabbed_this_pass = 0
        self._next_emit = 0.0  # media time of the next frame to emit
        self._anchor_wall = 0.0  # time.time() at media time 0
        self._anchor_mono = 0.0  # time.monotonic() at media time 0
        self.fps = 0.0

    def _open_file(self) -> cv2.VideoCapture:
        if not os.path.isfile(self._path):
            raise SourceError(f"video file {self._path} does not exist")
        capture = _open_capture(self._path, self._open_timeout_s, self._read_timeout_s)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open video file {self._path}")
        return capture

    def open(self) -> None:
        self._interrupted.clear()
        self._capture = self._open_file()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0.5 <= fps <= 240.0:  # missing or nonsense metadata
            fps = self._target_fps or 10.0
        self.fps = fps
        self._frame_interval = 1.0 / fps
        emit_fps = min(fps, self._target_fps) if self._target_fps else fps
        self._emit_interval = 1.0 / emit_fps
        self._offset = self._last_pos = self._next_emit = 0.0
        self._grabbed_this_pass = 0
        self._anchor_wall = time.time()
        self._anchor_mono = time.monotonic()

    def _rewind(self) -> None:
        # Reopening is more reliable than seeking to frame 0 across containers/codecs.
        assert self._capture is not None
        self._capture.release()
        self._capture = self._open_file()
        self._offset += self._last_pos + self._frame_interval
        self._last_pos = 0.0
        self._grabbed_this_pass = 0

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceError("read before open")
        while True:
            if self._interrupted.is_set():
                raise SourceError("interrupted")
            if not self._capture.grab():
                if self._loop and self._grabbed_this_pass > 0:
                    self._rewind()
                    continue
                raise EndOfStream(f"end of video file {self._path}")
            self._grabbed_this_pass += 1
            position = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if position <= 0.0 and self._grabbed_this_pass > 1:
                position = (self._grabbed_this_pass - 1) * self._frame_interval
            self._last_pos = position
            media_time = self._offset + position
            # Decimate to the emit rate; half a frame of slack absorbs rounding in POS_MSEC.
            if media_time + self._frame_interval / 2 < self._next_emit:
                continue
            self._next_emit += self._emit_interval
            if self._next_emit <= media_time:  # fell behind: no catch-up burst
                self._next_emit = media_time + self._emit_interval
            ok, image = self._capture.retrieve()
            self._pace(media_time)
            capture_ts = self._anchor_wall + media_time
            if not ok or image is None:
                return SourceFrame(None, capture_ts)
            return SourceFrame(np.asarray(image, np.uint8), capture_ts)

    def _pace(self, media_time: float) -> None:
        wait = self._anchor_mono + media_time - time.monotonic()
        if wait > 0:
            self._interrupted.wait(wait)
        elif wait < -1.0:
            # Fell behind by more than a second (CPU starved): re-anchor instead of
            # bursting through the backlog, as a live camera would simply move on.
            self._anchor_mono -= wait
            self._anchor_wall -= wait

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def interrupt(self) -> None:
        self._interrupted.set()
