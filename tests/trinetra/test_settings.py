"""trinetra.settings: every configuration model is described, strict and immutable, and
the environment is read the same way by every process."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from gateway.config import GatewaySettings
from orchestrator.config.node import NodeSettings
from trinetra.config.camera import CameraConfig
from trinetra.settings import ConfigFileError, ConfigModel, Settings, load_yaml, read_yaml

# Every package that may define configuration models: all of them are imported, so a
# model defined anywhere is walked.
APPLICATION_PACKAGES = ("trinetra", "orchestrator", "gateway", "identity", "analytics")


def _import_everything() -> None:
    for name in APPLICATION_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(module.name)


def _subclasses(base: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for subclass in base.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def _undescribed(models: list[type[BaseModel]]) -> list[str]:
    return sorted(
        f"{model.__module__}.{model.__qualname__}.{field}"
        for model in models
        for field, info in model.model_fields.items()
        if not (info.description or "").strip()
    )


def test_every_configuration_field_has_a_description() -> None:
    _import_everything()
    models = [
        model
        for base in (ConfigModel, Settings)
        for model in _subclasses(base)
        if model.__module__ != __name__  # this file's own examples, undescribed on purpose
    ]
    # The walk must have found the models this package set is known to define.
    names = {m.__qualname__ for m in models}
    assert {"CameraConfig", "TritonSettings", "NodeSettings", "GatewaySettings"} <= names
    assert _undescribed(models) == []


def test_the_description_check_names_an_undescribed_field() -> None:
    class Described(ConfigModel):
        documented: int = Field(1, description="Has one.")
        bare: int = 2

    assert _undescribed([Described]) == [f"{__name__}.{Described.__qualname__}.bare"]


def test_a_typo_is_an_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CameraConfig.model_validate(
            {"id": "a", "name": "A", "role": "entrance", "source": "x.mp4", "target_fsp": 5}
        )
    assert caught.value.errors()[0]["loc"] == ("target_fsp",)
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_configuration_is_immutable() -> None:
    camera = CameraConfig(id="a", name="A", role="entrance", source="x.mp4")
    with pytest.raises(ValidationError, match="frozen"):
        camera.target_fps = 1.0  # type: ignore[misc]


def test_settings_read_the_prefixed_environment_and_nested_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRINETRA_STORE_ID", "blr-01")
    monkeypatch.setenv("TRINETRA_TRITON__URL", "10.0.0.7:8001")
    # Another process's setting is not this one's business, so it is not an error.
    monkeypatch.setenv("TRINETRA_JWT_SECRET", "x" * 40)
    settings = NodeSettings()
    assert (settings.store_id, settings.triton.url) == ("blr-01", "10.0.0.7:8001")


def test_a_typo_inside_an_env_section_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("TRINETRA_INGEST__BATCH_SZIE", "10")
    with pytest.raises(ValidationError) as caught:
        GatewaySettings()
    assert [e["loc"] for e in caught.value.errors()] == [("ingest", "batch_szie")]


def test_load_yaml_validates_the_file_and_names_bad_fields(tmp_path: Path) -> None:
    class Section(ConfigModel):
        size: int = Field(1, ge=1, description="A size.")

    good, bad, empty = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "empty.yaml"
    good.write_text("size: 3\n")
    bad.write_text("sise: 3\n")
    empty.write_text("")
    assert load_yaml(good, Section).size == 3
    assert load_yaml(empty, Section).size == 1
    with pytest.raises(ValidationError, match="sise"):
        load_yaml(bad, Section)


def test_read_yaml_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [unclosed\n")
    with pytest.raises(ConfigFileError, match=r"camera file .*broken.yaml is not valid YAML"):
        read_yaml(broken, what="camera file")
    with pytest.raises(ConfigFileError, match=r"cannot read config file .*missing.yaml"):
        read_yaml(tmp_path / "missing.yaml")
