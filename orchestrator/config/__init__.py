"""Store-node configuration: loading the camera list from YAML + environment (`loader`)
and the node's own settings (`node`). The camera model itself is a contract:
`trinetra.config`."""

from orchestrator.config.loader import (
    CamerasDocument,
    CameraSettings,
    ConfigError,
    load_cameras,
    parse_cameras,
)

__all__ = [
    "CameraSettings",
    "CamerasDocument",
    "ConfigError",
    "load_cameras",
    "parse_cameras",
]
