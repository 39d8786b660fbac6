"""Build the right FrameSource for a camera's configuration (by its stream type)."""

from __future__ import annotations

from orchestrator.cameras.mjpeg import MjpegSource
from orchestrator.cameras.opencv_sources import FileSource, RtspSource
from orchestrator.cameras.source import FrameSource
from orchestrator.cameras.tcp import TcpSource
from orchestrator.cameras.v4l2 import V4l2Source
from orchestrator.cameras.websocket import WebSocketSource
from trinetra.config.camera import (
    CameraConfig,
    SocketOptions,
    SourceKind,
    UsbOptions,
    WebSocketOptions,
)

__all__ = ["open_source"]


def open_source(config: CameraConfig) -> FrameSource:
    """A new, unopened source for `config` (the worker calls `open()` in its thread)."""
    kind = config.source_kind
    if kind is SourceKind.RTSP:
        return RtspSource(
            config.source,
            open_timeout_s=config.open_timeout_s,
            read_timeout_s=config.read_timeout_s,
            display_url=config.redacted_source,
        )
    if kind is SourceKind.MJPEG:
        return MjpegSource(
            config.source,
            open_timeout_s=config.open_timeout_s,
            read_timeout_s=config.read_timeout_s,
            display_url=config.redacted_source,
        )
    if kind is SourceKind.WEBSOCKET:
        websocket = config.websocket or WebSocketOptions()
        return WebSocketSource(
            config.source,
            encoding=websocket.encoding,
            ping_interval_s=websocket.ping_interval_s,
            ping_timeout_s=websocket.ping_timeout_s,
            max_message_bytes=websocket.max_message_bytes,
            open_timeout_s=config.open_timeout_s,
            read_timeout_s=config.read_timeout_s,
            display_url=config.redacted_source,
        )
    if kind is SourceKind.SOCKET:
        options = config.socket or SocketOptions()
        return TcpSource(
            config.source,
            framing=options.framing,
            max_frame_bytes=options.max_frame_bytes,
            keepalive=options.keepalive,
            open_timeout_s=config.open_timeout_s,
            read_timeout_s=config.read_timeout_s,
            display_url=config.redacted_source,
        )
    if kind is SourceKind.USB:
        usb = config.usb or UsbOptions()
        return V4l2Source(
            config.device,
            resolution=usb.resolution,
            fps=usb.fps,
            pixel_format=usb.pixel_format,
        )
    return FileSource(
        config.file_path,
        target_fps=config.target_fps,
        loop=config.loop,
        open_timeout_s=config.open_timeout_s,
        read_timeout_s=config.read_timeout_s,
    )
