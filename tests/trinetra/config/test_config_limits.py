"""Every user-supplied collection of a configuration is bounded (trinetra.config.limits),
an oversized one is refused naming the field and the limit, before its items are
validated, and the largest allowed camera validates quickly."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import CameraConfig
from trinetra.config.limits import MAX_POLYGON_VERTICES, MAX_ZONES_PER_CAMERA
from trinetra.settings import ConfigModel

BASE = {"id": "door", "name": "Door", "role": "entrance", "source": "rtsp://10.0.0.5/s"}
TRIANGLE = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]


def polygon(n: int) -> list[list[float]]:
    return [
        [0.5 + 0.4 * math.cos(2 * math.pi * k / n), 0.5 + 0.4 * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]


def zones(n: int, vertices: int = 3) -> list[dict[str, Any]]:
    shape = TRIANGLE if vertices == 3 else polygon(vertices)
    return [{"name": f"z{i}", "polygon": shape} for i in range(n)]


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        CameraConfig.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_the_largest_allowed_camera_validates() -> None:
    config = CameraConfig.model_validate(
        {**BASE, "zones": zones(MAX_ZONES_PER_CAMERA, MAX_POLYGON_VERTICES)}
    )
    assert len(config.zones) == MAX_ZONES_PER_CAMERA


def test_too_many_zones_is_refused_naming_the_field_and_the_limit() -> None:
    started = time.perf_counter()
    found = errors({**BASE, "zones": zones(20_000)})
    elapsed = time.perf_counter() - started
    assert found == [("zones", "Value error, at most 32 zones per camera allowed, got 20000")]
    # Refused before 20,000 zones are validated (it took 85 s when it was accepted); a
    # bound far above the ~10 ms it takes, so a loaded machine does not fail it.
    assert elapsed < 5.0, elapsed


def test_too_many_vertices_is_refused_naming_the_zone_and_the_limit() -> None:
    found = errors({**BASE, "zones": zones(2, MAX_POLYGON_VERTICES + 1)})
    assert found == [
        (f"zones.{i}.polygon", "Value error, at most 64 vertices per zone polygon allowed, got 65")
        for i in range(2)
    ]


def test_duplicate_zone_names_are_named() -> None:
    data = {**BASE, "zones": [*zones(3), {"name": "z1", "polygon": TRIANGLE}]}
    assert errors(data) == [("zones", "Value error, duplicate zone names: z1")]


def test_analytics_polygon_and_zone_lists_are_bounded() -> None:
    zone = {"id": "a", "camera_id": "door", "name": "A", "kind": "area"}
    with pytest.raises(ValidationError, match="at most 64 vertices per zone polygon"):
        StoreAnalyticsConfig.model_validate(
            {"store_id": "s", "version": 1, "zones": [{**zone, "polygon": polygon(10_000)}]}
        )
    many = [{**zone, "id": f"z{i}", "polygon": TRIANGLE} for i in range(5_000)]
    with pytest.raises(ValidationError, match="at most 256 items"):
        StoreAnalyticsConfig.model_validate({"store_id": "s", "version": 1, "zones": many})


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            for arg in _types(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    todo.append(arg)
    return seen


def _types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", ())
    out = [annotation]
    for arg in args:
        out.extend(_types(arg))
    meta = getattr(annotation, "__metadata__", ())
    return out + list(meta)


@pytest.mark.parametrize("root", [CameraConfig, StoreAnalyticsConfig])
def test_every_list_and_string_field_has_a_maximum(root: type[ConfigModel]) -> None:
    """A list, tuple, dict or str field without a bound is a way to make validation
    slow: each must have max_length or a before-validator bound (trinetra.config.limits),
    or be constrained by a pattern or a fixed shape."""
    unbounded: list[str] = []
    for model in _models(root):
        schema = model.model_json_schema(mode="validation")
        for name, prop in schema.get("properties", {}).items():
            if not _bounded(prop, model, name):
                unbounded.append(f"{model.__name__}.{name}")
    assert unbounded == []


# Bounded by a before-validator (trinetra.config.limits.check_size), not the schema.
CHECKED_BEFORE = {("Zone", "polygon"), ("ZoneDefinition", "polygon")}
STRING_BOUNDS = ("maxLength", "pattern", "format", "enum", "const")


def _bounded(prop: dict[str, Any], model: type[BaseModel], name: str) -> bool:
    if (model.__name__, name) in CHECKED_BEFORE:
        return True
    for option in prop.get("anyOf", [prop]):
        kind = option.get("type")
        if kind == "string" and not any(bound in option for bound in STRING_BOUNDS):
            return False
        if kind == "array" and "maxItems" not in option:
            return False
        if kind == "object" and "additionalProperties" in option:
            return False  # a free-form mapping
    return True
