"""One camera's configuration: what it is, where its stream comes from, how hard to try.

Strict by design (trinetra.settings.ConfigModel): unknown fields are errors (a typo such
as `target_fsp` must not silently fall back to a default), every value is range-checked,
and network sources are checked against the SSRF allowlist (trinetra.config.network) at
validation time. Pass a custom allowlist through the validation context:

    CameraConfig.model_validate(data, context={"network_policy": policy})

Stream types: a camera's `stream_type` is given explicitly or inferred from its `source`:

    rtsp:// rtsps://       rtsp       OpenCV/FFmpeg over TCP
    http:// https://       mjpeg      multipart/x-mixed-replace JPEG stream
    ws:// wss://           websocket  one encoded image per message (options: `websocket`)
    tcp://host:port        socket     images on a raw TCP stream (options: `socket`)
    /dev/video*, /dev/v4l/*, an index (0, 1, ...)
                           usb        a local V4L2 camera (options: `usb`)
    a path or file://      file       a video file played in real time

An explicit `stream_type` that contradicts the source (`websocket` with an rtsp:// URL) is
an error on `stream_type`; a type's option section on a camera of another type is an
error on that section. An explicit `stream_type: usb` also takes any other /dev/ path (a
udev symlink such as /dev/front-door), and `stream_type: file` a file named like an index.

Sizes are bounded (trinetra.config.limits): at most MAX_ZONES_PER_CAMERA zones of at most
MAX_POLYGON_VERTICES vertices, names and sources of bounded length; an oversized list is
refused before its items are validated, with the field and the limit named.

Sources may carry credentials: `redacted_source` (trinetra.config.secrets.mask_source)
is what logs, status messages and APIs show, and the model's repr shows it too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from trinetra.config.limits import (
    MAX_NAME_LENGTH,
    MAX_POLYGON_VERTICES,
    MAX_SOURCE_LENGTH,
    MAX_ZONES_PER_CAMERA,
    check_size,
)
from trinetra.config.network import DEFAULT_POLICY, NetworkPolicy
from trinetra.config.secrets import mask_source

# The reconnect backoff's model lives with the backoff itself; re-exported here because
# it is part of the camera model.
from trinetra.retry import BackoffConfig
from trinetra.settings import ConfigModel

__all__ = [
    "DEFAULT_TIER_BY_ROLE",
    "BackoffConfig",
    "CameraConfig",
    "CameraRole",
    "Point",
    "PriorityTier",
    "SocketFraming",
    "SocketOptions",
    "SourceKind",
    "UsbOptions",
    "WebSocketEncoding",
    "WebSocketOptions",
    "Zone",
    "infer_source_kind",
]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class CameraRole(StrEnum):
    """What the camera is for; decides its default priority tier."""

    ENTRANCE = "entrance"
    EXIT = "exit"
    BILLING = "billing"
    FACE_CAPTURE = "face_capture"
    TRACKING = "tracking"
    QUEUE = "queue"
    GENERAL = "general"


class PriorityTier(StrEnum):
    """How a camera's frames fare under overload (orchestrator.frames.sampler).

    critical: never dropped by the adaptive sampler (billing: financial consequence;
              entrance: footfall counts must be monotonic);
    high:     thinned only under heavy load (tracking, face capture, exits, queues);
    normal:   thinned from moderate load on;
    low:      thinned first and hardest (analytics that can run at ~1 fps).
    """

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical up to 3 for low: higher ranks are dropped first."""
        return _TIER_RANK[self]


_TIER_RANK = {
    PriorityTier.CRITICAL: 0,
    PriorityTier.HIGH: 1,
    PriorityTier.NORMAL: 2,
    PriorityTier.LOW: 3,
}

DEFAULT_TIER_BY_ROLE: dict[CameraRole, PriorityTier] = {
    CameraRole.BILLING: PriorityTier.CRITICAL,
    CameraRole.ENTRANCE: PriorityTier.CRITICAL,
    CameraRole.EXIT: PriorityTier.HIGH,
    CameraRole.FACE_CAPTURE: PriorityTier.HIGH,
    CameraRole.TRACKING: PriorityTier.HIGH,
    CameraRole.QUEUE: PriorityTier.HIGH,
    CameraRole.GENERAL: PriorityTier.NORMAL,
}


class SourceKind(StrEnum):
    """A camera's stream type (`stream_type`); module docs for how it is inferred."""

    RTSP = "rtsp"  # rtsp:// or rtsps://, read by OpenCV/FFmpeg over TCP
    MJPEG = "mjpeg"  # http(s):// multipart/x-mixed-replace JPEG stream
    WEBSOCKET = "websocket"  # ws:// or wss://, one encoded image per message
    SOCKET = "socket"  # tcp://host:port, image frames on a raw TCP stream
    USB = "usb"  # a local V4L2 camera: /dev/videoN, a /dev/v4l/ path or an index
    FILE = "file"  # a video file (path or file:// URL)


_NETWORK_SCHEMES = {
    "rtsp": SourceKind.RTSP,
    "rtsps": SourceKind.RTSP,
    "http": SourceKind.MJPEG,
    "https": SourceKind.MJPEG,
    "ws": SourceKind.WEBSOCKET,
    "wss": SourceKind.WEBSOCKET,
    "tcp": SourceKind.SOCKET,
}

# Paths that name a V4L2 camera without an explicit stream_type. Other /dev/ paths (a udev
# symlink such as /dev/front-door) need `stream_type: usb`.
_V4L2_PATH = re.compile(r"^/dev/(video\d+$|v4l/)")
_DEVICE_INDEX = re.compile(r"^\d{1,3}$")


def _is_path(source: str) -> bool:
    scheme = urlsplit(source).scheme
    return len(scheme) <= 1  # no scheme, or a Windows drive letter


def infer_source_kind(source: str) -> SourceKind:
    """The stream type a (validated) source implies when `stream_type` is not given."""
    scheme = urlsplit(source).scheme.lower()
    if scheme in _NETWORK_SCHEMES:
        return _NETWORK_SCHEMES[scheme]
    if _is_path(source) and (_DEVICE_INDEX.match(source) or _V4L2_PATH.match(source)):
        return SourceKind.USB
    return SourceKind.FILE


def _kinds_allowed(source: str) -> set[SourceKind]:
    """Every stream type `source` can be read as: the inferred one, and for paths that
    may name a device (under /dev/, or a bare index) usb or file as well, but never file
    for what is inferred to be a camera device."""
    inferred = infer_source_kind(source)
    if not _is_path(source):
        return {inferred}
    if _DEVICE_INDEX.match(source):
        return {SourceKind.USB, SourceKind.FILE}  # `stream_type: file` for a file named "0"
    if source.startswith("/dev/"):
        return {SourceKind.USB, inferred}  # usb for a udev name such as /dev/front-door
    return {inferred}


def _describe_source(source: str) -> str:
    # Names the form of the source, never the URL itself: it may carry a password.
    scheme = urlsplit(source).scheme.lower()
    if scheme in _NETWORK_SCHEMES or scheme == "file":
        return f"{scheme}:// URLs are"
    if infer_source_kind(source) is SourceKind.USB:
        return "device indexes are" if _DEVICE_INDEX.match(source) else "device paths are"
    return "file paths are"


class WebSocketEncoding(StrEnum):
    """How a WebSocket camera puts an image in a message."""

    BINARY = "binary"  # binary messages: the encoded image (JPEG, PNG) itself
    BASE64 = "base64"  # text messages: the image in base64, optionally as a data: URL


class WebSocketOptions(ConfigModel):
    """Options of a `websocket` stream (orchestrator/cameras/websocket.py)."""

    encoding: WebSocketEncoding = Field(
        WebSocketEncoding.BINARY,
        description="binary: each binary message is one JPEG/PNG image; base64: each text "
        "message is one base64-encoded image (a data:image/...;base64, prefix is allowed). "
        "Messages of the other kind are counted as undecodable frames.",
    )
    ping_interval_s: float = Field(
        30.0, gt=0, le=300, description="Send a heartbeat ping this often, seconds."
    )
    ping_timeout_s: float = Field(
        20.0,
        gt=0,
        le=300,
        description="Declare the connection lost when a ping gets no pong for this long.",
    )
    max_message_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest message accepted (base64 text included); a larger one ends "
        "the connection (close code 1009) and the camera reconnects with backoff.",
    )


class SocketFraming(StrEnum):
    """How frames are delimited on a raw TCP stream (orchestrator/cameras/framing.py)."""

    JPEG_MARKERS = "jpeg_markers"  # JPEG images back to back, found by their SOI..EOI
    LENGTH_PREFIXED = "length_prefixed"  # 4-byte big-endian length, then one JPEG/PNG


class SocketOptions(ConfigModel):
    """Options of a `socket` stream (orchestrator/cameras/tcp.py)."""

    framing: SocketFraming = Field(
        SocketFraming.JPEG_MARKERS,
        description="jpeg_markers: JPEG images back to back (SOI 0xFFD8 .. EOI 0xFFD9, "
        "found by walking the JPEG's segments); length_prefixed: each frame is a 4-byte "
        "big-endian payload length followed by one JPEG or PNG image.",
    )
    max_frame_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Larger frames are skipped and counted as undecodable.",
    )
    keepalive: bool = Field(
        True, description="Enable TCP keepalive, so a silently dead peer is noticed."
    )


_RESOLUTION = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")


class UsbOptions(ConfigModel):
    """Options of a `usb` (V4L2) camera (orchestrator/cameras/v4l2.py). Unset values keep
    the device's own mode."""

    resolution: (
        tuple[Annotated[int, Field(ge=16, le=8192)], Annotated[int, Field(ge=16, le=8192)]] | None
    ) = Field(
        None, description='Capture size requested from the device: "1280x720" or [1280, 720].'
    )
    fps: float | None = Field(
        None, gt=0, le=240, description="Frame rate requested from the device."
    )
    pixel_format: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{4}$",
        description="V4L2 FourCC requested from the device, e.g. MJPG (what most USB cameras "
        "need for 720p and more at full rate) or YUYV.",
    )

    @field_validator("resolution", mode="before")
    @classmethod
    def _parse_resolution(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _RESOLUTION.match(value)
            if match is None:
                raise ValueError(f"resolution {value!r} is not WIDTHxHEIGHT (e.g. 1280x720)")
            return (int(match.group(1)), int(match.group(2)))
        return value


_Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[_Unit, _Unit]


class Zone(ConfigModel):
    """A named region of the image, as a polygon in normalized coordinates."""

    name: str = Field(
        pattern=SLUG_PATTERN, description="Zone name, unique within its camera (slug)."
    )
    polygon: list[Point] = Field(
        min_length=3,
        max_length=MAX_POLYGON_VERTICES,
        description="Vertices (x, y) in order, normalized to 0..1 of width and height; "
        f"3 to {MAX_POLYGON_VERTICES}.",
    )

    @field_validator("polygon", mode="before")
    @classmethod
    def _bounded_polygon(cls, polygon: Any) -> Any:
        check_size(polygon, MAX_POLYGON_VERTICES, "vertices per zone polygon")
        return polygon

    @field_validator("polygon")
    @classmethod
    def _non_degenerate(cls, polygon: list[Point]) -> list[Point]:
        # Shoelace area: collinear or repeated points enclose nothing.
        area2 = sum(
            x1 * y2 - x2 * y1
            for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
        )
        if abs(area2) < 1e-9:
            raise ValueError("polygon encloses no area (points are collinear or repeated)")
        return polygon


class CameraConfig(ConfigModel):
    """One camera. Immutable once validated."""

    id: str = Field(
        pattern=SLUG_PATTERN,
        description="Stable camera id: lowercase letters, digits, '-' and '_' (metric label).",
    )
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Human-readable name.")
    role: CameraRole = Field(description="What the camera watches; sets the default tier.")
    tier: PriorityTier = Field(
        PriorityTier.NORMAL,
        description="Overload priority; defaults from the role (billing/entrance: critical).",
    )
    source: str = Field(
        min_length=1,
        max_length=MAX_SOURCE_LENGTH,
        description="rtsp(s)://, http(s):// (MJPEG), ws(s)://, tcp://host:port, a V4L2 "
        "device (/dev/videoN or an index), a file:// URL or a video file path.",
    )
    stream_type: SourceKind | None = Field(
        None,
        description="rtsp, mjpeg, websocket, socket, usb or file; inferred from `source` "
        "when not given, and an error when it contradicts it.",
    )
    target_fps: float = Field(
        10.0, gt=0, le=30, description="Frames per second passed on from this camera."
    )
    enabled: bool = Field(True, description="Disabled cameras are configured but not opened.")
    open_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Give up connecting to the source after this long."
    )
    read_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Declare the stream lost when no frame for this long."
    )
    loop: bool = Field(
        False, description="File sources only: start over at the end (demo and test feeds)."
    )
    buffer_size: int = Field(
        2,
        ge=1,
        le=16,
        description="Frames held between the decoder thread and the pipeline; the oldest "
        "is overwritten when full (latest frame wins).",
    )
    burst_tokens: float = Field(
        5.0,
        ge=1.0,
        le=60.0,
        description="Token bucket depth: frames allowed in a burst above target_fps.",
    )
    reconnect: BackoffConfig = Field(
        default_factory=BackoffConfig, description="Reconnect backoff after a lost stream."
    )
    zones: list[Zone] = Field(
        default_factory=list,
        max_length=MAX_ZONES_PER_CAMERA,
        description=f"Named regions (entry lines, counters, queues), at most "
        f"{MAX_ZONES_PER_CAMERA}, names unique.",
    )
    websocket: WebSocketOptions | None = Field(
        None, description="stream_type websocket only: encoding, heartbeat, message size."
    )
    socket: SocketOptions | None = Field(
        None, description="stream_type socket only: framing, frame size, TCP keepalive."
    )
    usb: UsbOptions | None = Field(
        None, description="stream_type usb only: resolution, fps and pixel format."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_tier_from_role(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tier") is None and "role" in data:
            try:
                role = CameraRole(data["role"])
            except ValueError:
                return data  # the role field reports the bad value itself
            return {**data, "tier": DEFAULT_TIER_BY_ROLE[role]}
        return data

    @field_validator("source", mode="before")
    @classmethod
    def _index_as_text(cls, source: Any) -> Any:
        # YAML reads `source: 0` (a V4L2 device index) as an integer.
        if isinstance(source, int) and not isinstance(source, bool):
            return str(source)
        return source

    @field_validator("source")
    @classmethod
    def _check_source(cls, source: str, info: ValidationInfo) -> str:
        source = source.strip()
        if any(ord(ch) < 32 or ch == " " for ch in source):
            raise ValueError("source must not contain spaces or control characters")
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme in _NETWORK_SCHEMES:
            if not parts.hostname:
                raise ValueError(f"{scheme}:// source has no host")
            try:
                port = parts.port
            except ValueError as exc:
                raise ValueError(f"source has an invalid port: {exc}") from exc
            if scheme == "tcp":
                _check_tcp_source(parts.path, parts.query, parts.username, port)
            _policy(info).check_host(parts.hostname, port)
        elif scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError("file:// sources must be local (file:///path/to/video)")
            if not parts.path:
                raise ValueError("file:// source has no path")
        elif scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive letter
            raise ValueError(
                f"unsupported source scheme {scheme!r}: use rtsp, rtsps, http, https, ws, "
                "wss, tcp, file, a device or a path"
            )
        return source

    @field_validator("stream_type")
    @classmethod
    def _stream_type_matches_source(
        cls, stream_type: SourceKind | None, info: ValidationInfo
    ) -> SourceKind | None:
        source = info.data.get("source")
        if stream_type is None or source is None:  # inferred, or `source` reports its error
            return stream_type
        if stream_type not in _kinds_allowed(source):
            raise ValueError(
                f"stream_type {stream_type.value!r} does not match the source: "
                f"{_describe_source(source)} stream_type {infer_source_kind(source).value!r}"
            )
        return stream_type

    @field_validator("websocket", "socket", "usb")
    @classmethod
    def _options_match_stream_type(cls, options: Any, info: ValidationInfo) -> Any:
        source = info.data.get("source")
        if options is None or source is None:
            return options
        if "stream_type" not in info.data:  # invalid: `stream_type` reports its error
            return options
        kind = info.data["stream_type"] or infer_source_kind(source)
        if kind.value != info.field_name:  # each section is named after its stream type
            raise ValueError(
                f"{info.field_name} options apply to stream_type {info.field_name!r} only; "
                f"this camera is stream_type {kind.value!r}"
            )
        return options

    @field_validator("zones", mode="before")
    @classmethod
    def _bounded_zones(cls, zones: Any) -> Any:
        check_size(zones, MAX_ZONES_PER_CAMERA, "zones per camera")
        return zones

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        duplicates = sorted(n for n, k in Counter(zone.name for zone in zones).items() if k > 1)
        if duplicates:
            raise ValueError(f"duplicate zone names: {', '.join(duplicates)}")
        return zones

    @property
    def source_kind(self) -> SourceKind:
        """The stream type: `stream_type` when given, else inferred from the source."""
        return self.stream_type if self.stream_type is not None else infer_source_kind(self.source)

    @property
    def device(self) -> str | int:
        """A usb camera's device: its /dev/ path, or the index when the source is one."""
        return int(self.source) if _DEVICE_INDEX.match(self.source) else self.source

    @property
    def file_path(self) -> str:
        """The local path of a file source (file:// URLs decoded)."""
        parts = urlsplit(self.source)
        if parts.scheme.lower() == "file":
            return unquote(parts.path)
        return self.source

    @property
    def redacted_source(self) -> str:
        """The source with its credentials masked (password, secret query and path
        parameters: trinetra.config.secrets), for logs, status messages and APIs."""
        return mask_source(self.source)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr() and str() end up in logs and tracebacks: never with the credentials.
        for name, value in super().__repr_args__():
            yield (
                name,
                (mask_source(value) if name == "source" and isinstance(value, str) else value),
            )


def _check_tcp_source(path: str, query: str, username: str | None, port: int | None) -> None:
    # A raw socket has no paths, queries or logins: any of them means a mistyped URL.
    if port is None:
        raise ValueError("tcp:// source needs a port (tcp://host:port)")
    if path not in ("", "/") or query:
        raise ValueError("tcp:// source takes host:port only (no path or query)")
    if username is not None:
        raise ValueError("tcp:// source takes no credentials")


def _policy(info: ValidationInfo) -> NetworkPolicy:
    context = info.context
    if isinstance(context, dict):
        policy = context.get("network_policy")
        if isinstance(policy, NetworkPolicy):
            return policy
    return DEFAULT_POLICY
