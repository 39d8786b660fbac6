"""One camera's configuration: what it is, where its stream comes from, how hard to try.

Strict by design (trinetra.settings.ConfigModel): unknown fields are errors (a typo such
as `target_fsp` must not silently fall back to a default), every value is range-checked,
and network sources are checked against the SSRF allowlist (trinetra.config.network) at
validation time. Pass a custom allowlist through the validation context:

    CameraConfig.model_validate(data, context={"network_policy": policy})
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from trinetra.config.network import DEFAULT_POLICY, NetworkPolicy

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
    "SourceKind",
    "Zone",
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
    RTSP = "rtsp"  # rtsp:// or rtsps://, read by OpenCV/FFmpeg over TCP
    MJPEG = "mjpeg"  # http(s):// multipart/x-mixed-replace JPEG stream
    FILE = "file"  # a video file (path or file:// URL)


_NETWORK_SCHEMES = {
    "rtsp": SourceKind.RTSP,
    "rtsps": SourceKind.RTSP,
    "http": SourceKind.MJPEG,
    "https": SourceKind.MJPEG,
}

_Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[_Unit, _Unit]


class Zone(ConfigModel):
    """A named region of the image, as a polygon in normalized coordinates."""

    name: str = Field(
        pattern=SLUG_PATTERN, description="Zone name, unique within its camera (slug)."
    )
    polygon: list[Point] = Field(
        min_length=3,
        description="Vertices (x, y) in order, normalized to 0..1 of width and height.",
    )

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
    name: str = Field(min_length=1, max_length=128, description="Human-readable name.")
    role: CameraRole = Field(description="What the camera watches; sets the default tier.")
    tier: PriorityTier = Field(
        PriorityTier.NORMAL,
        description="Overload priority; defaults from the role (billing/entrance: critical).",
    )
    source: str = Field(
        min_length=1,
        max_length=2048,
        description="rtsp://, rtsps://, http(s):// (MJPEG), file:// URL or a video file path.",
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
        default_factory=list, description="Named regions (entry lines, counters, queues)."
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
            _policy(info).check_host(parts.hostname, port)
        elif scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError("file:// sources must be local (file:///path/to/video)")
            if not parts.path:
                raise ValueError("file:// source has no path")
        elif scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive letter
            raise ValueError(
                f"unsupported source scheme {scheme!r}: use rtsp, rtsps, http, https, "
                "file or a path"
            )
        return source

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        names = [zone.name for zone in zones]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate zone names: {', '.join(duplicates)}")
        return zones

    @property
    def source_kind(self) -> SourceKind:
        scheme = urlsplit(self.source).scheme.lower()
        return _NETWORK_SCHEMES.get(scheme, SourceKind.FILE)

    @property
    def file_path(self) -> str:
        """The local path of a file source (file:// URLs decoded)."""
        parts = urlsplit(self.source)
        if parts.scheme.lower() == "file":
            return unquote(parts.path)
        return self.source

    @property
    def redacted_source(self) -> str:
        """The source with any password masked, for logs and status messages."""
        parts = urlsplit(self.source)
        if parts.password is None:
            return self.source
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()


def _policy(info: ValidationInfo) -> NetworkPolicy:
    context = info.context
    if isinstance(context, dict):
        policy = context.get("network_policy")
        if isinstance(policy, NetworkPolicy):
            return policy
    return DEFAULT_POLICY
