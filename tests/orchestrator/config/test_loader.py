"""Loading the camera file: YAML, duplicate ids, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devservices.paths import REPO_ROOT
from orchestrator.config import CameraSettings, ConfigError, load_cameras, parse_cameras
from trinetra.config import CameraRole, PriorityTier
from trinetra.config.limits import MAX_STORE_CAMERAS

EXAMPLE = REPO_ROOT / "orchestrator" / "config" / "cameras.example.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CAMERAS_FILE", "SOURCE_ALLOWLIST", "CAMERA_OVERRIDES"):
        monkeypatch.delenv(f"TRINETRA_{name}", raising=False)


def _write(tmp_path: Path, cameras: list[dict[str, object]]) -> Path:
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump({"cameras": cameras}))
    return path


def _cam(camera_id: str, **extra: object) -> dict[str, object]:
    return {
        "id": camera_id,
        "name": camera_id,
        "role": "tracking",
        "source": "rtsp://127.0.0.1/s",
        **extra,
    }


def test_the_example_file_loads() -> None:
    cameras = load_cameras(EXAMPLE)
    by_id = {camera.id: camera for camera in cameras}
    assert list(by_id) == ["entrance-1", "billing-1", "aisle-3", "backroom", "demo-file"]
    assert by_id["entrance-1"].tier is PriorityTier.CRITICAL
    assert by_id["billing-1"].role is CameraRole.BILLING
    assert by_id["billing-1"].tier is PriorityTier.CRITICAL
    assert by_id["backroom"].tier is PriorityTier.LOW and not by_id["backroom"].enabled
    assert [zone.name for zone in by_id["billing-1"].zones] == ["counter", "queue"]


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, [_cam("a"), _cam("b"), _cam("a")])
    with pytest.raises(ConfigError, match="duplicate camera ids: a"):
        load_cameras(path)


def test_a_camera_file_over_the_store_limit_is_refused_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, [_cam(f"c{i}") for i in range(MAX_STORE_CAMERAS + 1)])
    with pytest.raises(ConfigError, match=f"cameras.*at most {MAX_STORE_CAMERAS}"):
        load_cameras(path)


def test_errors_name_the_camera_and_field_and_suggest_fixes(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [_cam("ok"), _cam("typo", target_fsp=5, reconnect={"max": 3}), _cam("fps", target_fps=99)],
    )
    with pytest.raises(ConfigError) as exc:
        load_cameras(path)
    message = str(exc.value)
    assert "camera 'typo' field 'target_fsp': Extra inputs are not permitted" in message
    assert "(did you mean 'target_fps'?)" in message
    assert "camera 'typo' field 'reconnect.max'" in message and "'max_s'" in message
    assert "camera 'fps' field 'target_fps'" in message
    assert "'ok'" not in message


def test_overrides_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, [_cam("entrance-1", role="entrance"), _cam("billing-1")])
    monkeypatch.setenv(
        "TRINETRA_CAMERA_OVERRIDES",
        '{"entrance-1": {"source": "rtsp://admin:pw@10.20.0.11/s1", "reconnect": {"max_s": 5}}}',
    )
    monkeypatch.setenv("TRINETRA_CAMERA_OVERRIDES__BILLING_1__TARGET_FPS", "15")
    cameras = {camera.id: camera for camera in load_cameras(path)}
    assert cameras["entrance-1"].source == "rtsp://admin:pw@10.20.0.11/s1"
    assert cameras["entrance-1"].reconnect.max_s == 5
    assert cameras["entrance-1"].reconnect.initial_s == 1.0  # merged, not replaced
    assert cameras["billing-1"].target_fps == 15


def test_overrides_are_validated_like_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, [_cam("entrance-1")])
    monkeypatch.setenv("TRINETRA_CAMERA_OVERRIDES", '{"entrance-1": {"source": "rtsp://8.8.8.8/"}}')
    with pytest.raises(ConfigError, match="outside the source allowlist"):
        load_cameras(path)
    monkeypatch.setenv("TRINETRA_CAMERA_OVERRIDES", '{"entrance-2": {"target_fps": 5}}')
    with pytest.raises(ConfigError, match="names camera 'entrance-2', which is not configured"):
        load_cameras(path)


def test_camera_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, [_cam("a")])
    monkeypatch.setenv("TRINETRA_CAMERAS_FILE", str(path))
    assert [camera.id for camera in load_cameras()] == ["a"]
    monkeypatch.delenv("TRINETRA_CAMERAS_FILE")
    with pytest.raises(ConfigError, match="TRINETRA_CAMERAS_FILE"):
        load_cameras()


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read camera file"):
        load_cameras(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_cameras(bad)
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_cameras(["not", "a", "mapping"], settings=CameraSettings())
    with pytest.raises(ConfigError, match="extra: Extra inputs are not permitted"):
        parse_cameras({"cameras": [], "extra": 1})
