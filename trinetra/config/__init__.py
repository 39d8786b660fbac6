"""Camera configuration: the camera model (shared by the store node, which runs cameras,
and the gateway, which registers them) and the source-address allowlist (SSRF rules)."""

from trinetra.config.camera import (
    DEFAULT_TIER_BY_ROLE,
    BackoffConfig,
    CameraConfig,
    CameraRole,
    Point,
    PriorityTier,
    SourceKind,
    Zone,
)
from trinetra.config.network import (
    DEFAULT_ALLOWED_NETWORKS,
    DEFAULT_POLICY,
    NetworkPolicy,
    SourceNotAllowedError,
)

__all__ = [
    "DEFAULT_ALLOWED_NETWORKS",
    "DEFAULT_POLICY",
    "DEFAULT_TIER_BY_ROLE",
    "BackoffConfig",
    "CameraConfig",
    "CameraRole",
    "NetworkPolicy",
    "Point",
    "PriorityTier",
    "SourceKind",
    "SourceNotAllowedError",
    "Zone",
]
