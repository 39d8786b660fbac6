"""CameraConfig: strict fields, tiers from roles, sources, zones."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from trinetra.config import CameraConfig, PriorityTier, SourceKind, Zone


def _camera(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "entrance-1",
        "name": "Main entrance",
        "role": "entrance",
        "source": "rtsp://127.0.0.1:8554/stream",
    }
    data.update(overrides)
    return data


def _error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


def test_minimal_camera_gets_documented_defaults() -> None:
    config = CameraConfig.model_validate(_camera())
    assert config.tier is PriorityTier.CRITICAL
    assert config.target_fps == 10
    assert config.enabled and not config.loop
    assert config.reconnect.initial_s == 1.0 and config.reconnect.max_s == 30.0
    assert config.source_kind is SourceKind.RTSP
    assert config.zones == []


@pytest.mark.parametrize(
    ("role", "tier"),
    [
        ("billing", PriorityTier.CRITICAL),
        ("entrance", PriorityTier.CRITICAL),
        ("tracking", PriorityTier.HIGH),
        ("face_capture", PriorityTier.HIGH),
        ("general", PriorityTier.NORMAL),
    ],
)
def test_tier_defaults_from_role(role: str, tier: PriorityTier) -> None:
    assert CameraConfig.model_validate(_camera(role=role)).tier is tier


def test_explicit_tier_wins_and_ranks_order_tiers() -> None:
    config = CameraConfig.model_validate(_camera(role="billing", tier="low"))
    assert config.tier is PriorityTier.LOW
    ranks = [tier.rank for tier in PriorityTier]
    assert ranks == sorted(ranks) and PriorityTier.CRITICAL.rank == 0


@pytest.mark.parametrize(
    ("typo", "field"),
    [({"target_fsp": 5}, "target_fsp"), ({"enabeld": False}, "enabeld"), ({"Name": "x"}, "Name")],
)
def test_a_typo_is_an_error_that_names_the_field(typo: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(**typo))
    errors = exc.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [((field,), "extra_forbidden")]
    assert field in str(exc.value)


def test_nested_typos_name_the_nested_field() -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(reconnect={"initial": 2}))
    assert _error_locs(exc) == [("reconnect", "initial")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target_fps": 0}, "target_fps"),
        ({"target_fps": 31}, "target_fps"),
        ({"open_timeout_s": -1}, "open_timeout_s"),
        ({"id": "Entrance 1"}, "id"),
        ({"id": "-x"}, "id"),
        ({"role": "cashier"}, "role"),
        ({"tier": "urgent"}, "tier"),
        ({"name": ""}, "name"),
        ({"buffer_size": 0}, "buffer_size"),
    ],
)
def test_out_of_range_values_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(**overrides))
    assert _error_locs(exc) == [(field,)]


def test_backoff_bounds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="max_s must be >= initial_s"):
        CameraConfig.model_validate(_camera(reconnect={"initial_s": 5, "max_s": 1}))


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("rtsp://127.0.0.1/stream", SourceKind.RTSP),
        ("rtsps://10.1.2.3:322/stream", SourceKind.RTSP),
        ("http://192.168.1.20:8080/video.mjpg", SourceKind.MJPEG),
        ("https://localhost/mjpeg", SourceKind.MJPEG),
        ("/srv/video/demo.mp4", SourceKind.FILE),
        ("media/demo.avi", SourceKind.FILE),
        ("file:///srv/video/demo%20one.mp4", SourceKind.FILE),
    ],
)
def test_source_kinds(source: str, kind: SourceKind) -> None:
    assert CameraConfig.model_validate(_camera(source=source)).source_kind is kind


def test_file_url_is_decoded_to_a_path() -> None:
    config = CameraConfig.model_validate(_camera(source="file:///srv/video/demo%20one.mp4"))
    assert config.file_path == "/srv/video/demo one.mp4"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("ftp://127.0.0.1/video", "unsupported source scheme 'ftp'"),
        ("rtsp:///stream", "has no host"),
        ("rtsp://127.0.0.1:99999/stream", "invalid port"),
        ("file://otherhost/video.mp4", "must be local"),
        ("rtsp://127.0.0.1/a b", "spaces or control characters"),
    ],
)
def test_bad_sources_are_refused(source: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as exc:
        CameraConfig.model_validate(_camera(source=source))
    assert _error_locs(exc) == [("source",)]


def test_redacted_source_hides_the_password() -> None:
    config = CameraConfig.model_validate(
        _camera(source="rtsp://admin:s3cret@192.168.1.10:554/h264?channel=1")
    )
    assert config.redacted_source == "rtsp://admin:***@192.168.1.10:554/h264?channel=1"
    assert "s3cret" not in config.redacted_source
    plain = CameraConfig.model_validate(_camera())
    assert plain.redacted_source == plain.source


def test_zones_are_validated() -> None:
    door = {"name": "door", "polygon": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]}
    config = CameraConfig.model_validate(_camera(zones=[door]))
    assert config.zones == [Zone(name="door", polygon=[(0.1, 0.1), (0.9, 0.1), (0.5, 0.9)])]

    cases: list[tuple[dict[str, Any], tuple[str | int, ...]]] = [
        ({"name": "a", "polygon": [[0, 0], [1, 1]]}, ("zones", 0, "polygon")),
        ({"name": "a", "polygon": [[0, 0], [1.5, 0], [0, 1]]}, ("zones", 0, "polygon", 1, 0)),
        ({"name": "a", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}, ("zones", 0, "polygon")),
        ({"name": "a", "polygon": [[0, 0], [1, 0], [0, 1]], "kind": "x"}, ("zones", 0, "kind")),
    ]
    for zone, loc in cases:
        with pytest.raises(ValidationError) as exc:
            CameraConfig.model_validate(_camera(zones=[zone]))
        assert _error_locs(exc) == [loc], zone

    with pytest.raises(ValidationError, match="duplicate zone names: door"):
        CameraConfig.model_validate(_camera(zones=[door, door]))


def test_config_is_immutable() -> None:
    config = CameraConfig.model_validate(_camera())
    with pytest.raises(ValidationError):
        config.target_fps = 5  # type: ignore[misc]
