"""Orchestrator configuration: cameras, source allowlist, loading from YAML + environment."""

from orchestrator.config.camera import (
    DEFAULT_TIER_BY_ROLE,
    BackoffConfig,
    CameraConfig,
    CameraRole,
    Point,
    PriorityTier,
    SourceKind,
    Zone,
)
from orchestrator.config.loader import (
    CamerasDocument,
    CameraSettings,
    ConfigError,
    load_cameras,
    parse_cameras,
)
from orchestrator.config.network import (
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
    "CameraSettings",
    "CamerasDocument",
    "ConfigError",
    "NetworkPolicy",
    "Point",
    "PriorityTier",
    "SourceKind",
    "SourceNotAllowedError",
    "Zone",
    "load_cameras",
    "parse_cameras",
]
