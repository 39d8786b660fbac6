"""Build the right FrameSource for a camera's configuration."""

from __future__ import annotations

from orchestrator.cameras.mjpeg import MjpegSource
from orchestrator.cameras.opencv_sources import FileSource, RtspSource
from orchestrator.cameras.source import FrameSource
from trinetra.config.camera import CameraConfig, SourceKind

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
    return FileSource(
        config.file_path,
        target_fps=config.target_fps,
        loop=config.loop,
        open_timeout_s=config.open_timeout_s,
        read_timeout_s=config.read_timeout_s,
    )
