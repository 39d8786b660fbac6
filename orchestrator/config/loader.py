"""Load the camera list from YAML, with environment overrides.

The YAML file holds a `cameras:` list of CameraConfig mappings (cameras.example.yaml).
Environment variables (prefix TRINETRA_, trinetra.settings.Settings) override it:

    TRINETRA_CAMERAS_FILE=/etc/trinetra/cameras.yaml
    TRINETRA_SOURCE_ALLOWLIST=10.20.0.0/16,127.0.0.0/8        (comma list or JSON list)
    TRINETRA_CAMERA_OVERRIDES='{"entrance-1": {"source": "rtsp://user:pw@10.20.0.5/s1"}}'
    TRINETRA_CAMERA_OVERRIDES__BILLING_1__TARGET_FPS=15        (nested form: env names are
                                                                case-insensitive and have no
                                                                '-', so billing_1 matches the
                                                                id billing-1 if unambiguous)

Overrides are how secrets (camera passwords) stay out of the YAML file. An override for a
camera id that is not in the file is an error, like any other typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import NoDecode

from trinetra.config.camera import BackoffConfig, CameraConfig, Zone
from trinetra.config.limits import MAX_STORE_CAMERAS
from trinetra.config.network import DEFAULT_ALLOWED_NETWORKS, NetworkPolicy, parse_networks
from trinetra.settings import ConfigFileError, ConfigModel, Settings, parse_yaml, read_yaml

__all__ = ["CameraSettings", "CamerasDocument", "ConfigError", "load_cameras", "parse_cameras"]


class ConfigError(ValueError):
    """The camera configuration is invalid; the message names each bad field."""


class CameraSettings(Settings):
    """Camera-related settings from the environment (prefix TRINETRA_)."""

    cameras_file: Path | None = Field(
        None, description="YAML file with the `cameras:` list (when no path is passed)."
    )
    source_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_NETWORKS),
        description="CIDR networks camera hosts may resolve into (comma list or JSON list).",
    )
    camera_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-camera field overrides, keyed by camera id, merged over the YAML.",
    )

    @field_validator("source_allowlist", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                # A JSON list is valid YAML; parse_yaml bounds its nesting.
                return parse_yaml(text, origin="TRINETRA_SOURCE_ALLOWLIST")
            return [item for item in (part.strip() for part in text.split(",")) if item]
        return value

    @field_validator("source_allowlist")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    def network_policy(self) -> NetworkPolicy:
        return NetworkPolicy.from_cidrs(self.source_allowlist)


class CamerasDocument(ConfigModel):
    """The whole camera file."""

    cameras: list[CameraConfig] = Field(
        description="Every camera of this orchestrator.", max_length=MAX_STORE_CAMERAS
    )

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        seen: set[str] = set()
        duplicates: list[str] = []
        for camera in cameras:
            if camera.id in seen and camera.id not in duplicates:
                duplicates.append(camera.id)
            seen.add(camera.id)
        if duplicates:
            raise ValueError(f"duplicate camera ids: {', '.join(duplicates)}")
        return cameras


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _override_target(key: str, by_id: Mapping[str, int]) -> int | None:
    if key in by_id:
        return by_id[key]

    # Nested env names arrive lowercased and cannot contain '-': accept billing_1 for
    # billing-1 when that reading is unambiguous.
    def norm(text: str) -> str:
        return text.lower().replace("-", "_")

    matches = [index for camera_id, index in by_id.items() if norm(camera_id) == norm(key)]
    return matches[0] if len(matches) == 1 else None


def _known_fields(parent: tuple[Any, ...]) -> list[str]:
    """Field names valid at `parent` (a path inside one camera), for typo suggestions."""
    if not parent:
        return list(CameraConfig.model_fields)
    if parent[0] == "reconnect":
        return list(BackoffConfig.model_fields)
    if parent[0] == "zones":
        return list(Zone.model_fields)
    return []


def _describe(error: Mapping[str, Any], raw_cameras: Sequence[Any]) -> str:
    loc = tuple(error.get("loc", ()))
    where = ".".join(str(part) for part in loc) or "(file)"
    if len(loc) >= 2 and loc[0] == "cameras" and isinstance(loc[1], int):
        index = loc[1]
        raw = raw_cameras[index] if index < len(raw_cameras) else None
        camera_id = raw.get("id") if isinstance(raw, Mapping) else None
        field = ".".join(str(part) for part in loc[2:]) or "(camera)"
        label = f"camera {camera_id!r}" if camera_id is not None else f"camera #{index}"
        where = f"{label} field {field!r}"
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden" and loc:
        known = _known_fields(loc[2:-1])
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if guess:
            message += f" (did you mean {guess[0]!r}?)"
    return f"{where}: {message}"


def parse_cameras(
    data: Any, *, settings: CameraSettings | None = None, origin: str = "camera config"
) -> list[CameraConfig]:
    """Validate an already-parsed document (`{"cameras": [...]}`) with env overrides."""
    settings = settings if settings is not None else CameraSettings()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with a 'cameras' list")
    document = dict(data)
    raw_cameras = document.get("cameras")
    if isinstance(raw_cameras, list) and settings.camera_overrides:
        by_id = {str(c.get("id")): i for i, c in enumerate(raw_cameras) if isinstance(c, Mapping)}
        raw_cameras = list(raw_cameras)
        for camera_id, override in settings.camera_overrides.items():
            index = _override_target(camera_id, by_id)
            if index is None:
                raise ConfigError(
                    f"{origin}: TRINETRA_CAMERA_OVERRIDES names camera {camera_id!r}, "
                    f"which is not configured (known: {', '.join(sorted(by_id)) or 'none'})"
                )
            raw_cameras[index] = _merge(raw_cameras[index], override)
        document["cameras"] = raw_cameras
    try:
        parsed = CamerasDocument.model_validate(
            document, context={"network_policy": settings.network_policy()}
        )
    except ValidationError as exc:
        cameras_list = raw_cameras if isinstance(raw_cameras, list) else []
        lines = [_describe(error, cameras_list) for error in exc.errors()]
        raise ConfigError(f"{origin} is invalid:\n  " + "\n  ".join(lines)) from exc
    return parsed.cameras


def load_cameras(
    path: str | Path | None = None, *, settings: CameraSettings | None = None
) -> list[CameraConfig]:
    """Read, override and validate the camera file (`path`, else TRINETRA_CAMERAS_FILE)."""
    settings = settings if settings is not None else CameraSettings()
    chosen = Path(path) if path is not None else settings.cameras_file
    if chosen is None:
        raise ConfigError("no camera file: pass a path or set TRINETRA_CAMERAS_FILE")
    try:
        data = read_yaml(chosen, what="camera file")
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from exc
    return parse_cameras(data, settings=settings, origin=str(chosen))
