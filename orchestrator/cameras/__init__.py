"""Camera ingestion: frame sources (RTSP, HTTP MJPEG, WebSocket, raw TCP socket, USB/V4L2,
video files) and the per-camera worker that reads each in its own thread and supervises
it from asyncio."""

from orchestrator.cameras.buffer import BufferClosed, LatestBuffer
from orchestrator.cameras.factory import open_source
from orchestrator.cameras.frame import Frame
from orchestrator.cameras.mjpeg import MjpegSource, parse_boundary
from orchestrator.cameras.opencv_sources import (
    FFMPEG_CAPTURE_OPTIONS,
    FileSource,
    RtspSource,
    ensure_ffmpeg_capture_options,
)
from orchestrator.cameras.source import EndOfStream, FrameSource, SourceError, SourceFrame
from orchestrator.cameras.tcp import TcpSource
from orchestrator.cameras.v4l2 import V4l2Source
from orchestrator.cameras.websocket import WebSocketSource
from orchestrator.cameras.worker import (
    CameraState,
    CameraStatus,
    CameraWorker,
    SourceFactory,
    StatusCallback,
)
from trinetra.retry import Backoff

__all__ = [
    "FFMPEG_CAPTURE_OPTIONS",
    "Backoff",
    "BufferClosed",
    "CameraState",
    "CameraStatus",
    "CameraWorker",
    "EndOfStream",
    "FileSource",
    "Frame",
    "FrameSource",
    "LatestBuffer",
    "MjpegSource",
    "RtspSource",
    "SourceError",
    "SourceFactory",
    "SourceFrame",
    "StatusCallback",
    "TcpSource",
    "V4l2Source",
    "WebSocketSource",
    "ensure_ffmpeg_capture_options",
    "open_source",
    "parse_boundary",
]
