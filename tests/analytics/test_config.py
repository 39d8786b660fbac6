"""Configuration validation: every rule fails with the field or object named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from analytics.config import EngineSettings
from tests.analytics.helpers import line, square, zone
from trinetra.config.analytics import (
    FunnelDefinition,
    LineDefinition,
    StoreAnalyticsConfig,
    ZoneDefinition,
    ZoneKind,
    ZoneStage,
)


def _zone(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "aisle-1",
        "camera_id": "cam-1",
        "name": "Aisle 1",
        "kind": "area",
        "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]],
    }
    data.update(overrides)
    return data


def _error(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


def test_valid_zone_round_trips() -> None:
    z = ZoneDefinition.model_validate(_zone(capacity=10, dwell_threshold_s=30))
    assert z.kind is ZoneKind.AREA
    assert z.polygon[2] == (0.5, 0.5)
    assert ZoneDefinition.model_validate(z.model_dump(mode="json")) == z


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ([[0.1, 0.1], [0.5, 0.1]], "at least 3 vertices"),
        ([[0.1 + 0.001 * i, (0.1 + i % 2 * 0.3)] for i in range(65)], "at most 64 vertices"),
        ([[0.1, 0.1], [1.2, 0.1], [0.5, 0.5]], "vertex 1 (1.2, 0.1) is outside the frame"),
        ([[0.1, 0.1], [0.5, -0.1], [0.5, 0.5]], "vertex 1"),
        ([[0.1, 0.1], [0.3, 0.3], [0.5, 0.5]], "encloses no area"),
        ([[0.1, 0.1], [0.1, 0.1], [0.5, 0.5], [0.1, 0.5]], "vertex 1 repeats vertex 0"),
        # bowtie: edge 0 (top-left -> bottom-right) crosses edge 2 (top-right -> bottom-left)
        ([[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]], "self-intersecting: edge 0"),
        ([[0.1, 0.1], [float("nan"), 0.1], [0.5, 0.5]], "not a finite point"),
    ],
)
def test_bad_polygons_name_the_problem(polygon: list[list[float]], message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ZoneDefinition.model_validate(_zone(polygon=polygon))
    assert "polygon" in _error(exc)
    assert message in _error(exc)


def test_touching_edges_are_self_intersecting() -> None:
    # vertex 4 touches edge 1 (0.5,0.1 -> 0.5,0.5): two squares pinched at a point
    pinched = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.9, 0.9], [0.5, 0.3], [0.1, 0.5]]
    with pytest.raises(ValidationError, match="self-intersecting"):
        ZoneDefinition.model_validate(_zone(polygon=pinched))


def test_spike_folding_back_is_self_intersecting() -> None:
    spike = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.5, 0.3], [0.1, 0.5]]
    with pytest.raises(ValidationError, match="self-intersecting"):
        ZoneDefinition.model_validate(_zone(polygon=spike))


def test_concave_polygon_is_fine() -> None:
    ell = [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4], [0.6, 0.4], [0.6, 0.6], [0.1, 0.6]]
    assert len(ZoneDefinition.model_validate(_zone(polygon=ell)).polygon) == 6


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": "Aisle 1"}, "id"),
        ({"kind": "garden"}, "kind"),
        ({"capacity": 0}, "capacity"),
        ({"dwell_threshold_s": -1}, "dwell_threshold_s"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_field_errors_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ZoneDefinition.model_validate(_zone(**overrides))
    assert field in _error(exc)


def test_queue_only_fields() -> None:
    with pytest.raises(ValidationError, match="wait_threshold_s is for queue zones only"):
        ZoneDefinition.model_validate(_zone(wait_threshold_s=60))
    queue = ZoneDefinition.model_validate(_zone(kind="queue", wait_threshold_s=60))
    assert queue.wait_threshold_s == 60


def test_models_are_frozen() -> None:
    z = ZoneDefinition.model_validate(_zone())
    with pytest.raises(ValidationError):
        z.name = "other"  # type: ignore[misc]


def test_line_validation() -> None:
    ok = line("door", (0.2, 0.5), (0.8, 0.5))
    assert ok.in_side == "right" and not ok.counts_store_entry
    with pytest.raises(ValidationError, match="endpoints a and b coincide"):
        line("door", (0.2, 0.5), (0.2, 0.5))
    with pytest.raises(ValidationError, match="endpoint b"):
        line("door", (0.2, 0.5), (1.5, 0.5))
    with pytest.raises(ValidationError, match="in_side"):
        LineDefinition.model_validate(
            {"id": "d", "camera_id": "c", "name": "d", "a": [0, 0], "b": [1, 1], "in_side": "up"}
        )


def test_funnel_stages() -> None:
    funnel = FunnelDefinition.model_validate(
        {
            "id": "buy",
            "name": "Buy",
            "stages": [
                {"kind": "store_entry"},
                {"kind": "zone", "zone_ids": ["aisle-1"]},
                {"kind": "zone_kind", "zone_kind": "checkout"},
            ],
        }
    )
    assert isinstance(funnel.stages[1], ZoneStage)
    with pytest.raises(ValidationError, match="at least 2"):
        FunnelDefinition.model_validate(
            {"id": "f", "name": "f", "stages": [{"kind": "store_entry"}]}
        )
    with pytest.raises(ValidationError, match="at most 10"):
        FunnelDefinition.model_validate(
            {"id": "f", "name": "f", "stages": [{"kind": "store_entry"}] * 11}
        )
    with pytest.raises(ValidationError, match="zone_ids"):
        FunnelDefinition.model_validate(
            {"id": "f", "name": "f", "stages": [{"kind": "store_entry"}, {"kind": "zone"}]}
        )


def _store(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "store_id": "blr-01",
        "version": 3,
        "zones": [
            zone("aisle-1", square(0.1, 0.1, 0.4, 0.4)).model_dump(),
            zone("till-1", square(0.5, 0.5, 0.7, 0.7), kind="checkout").model_dump(),
            zone("queue-1", square(0.5, 0.8, 0.7, 0.95), kind="queue").model_dump(),
        ],
        "lines": [line("door", (0.1, 0.9), (0.9, 0.9)).model_dump()],
        "funnels": [
            {
                "id": "buy",
                "name": "Buy",
                "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["aisle-1"]}],
            }
        ],
    }
    data.update(overrides)
    return data


def test_store_config_valid() -> None:
    cfg = StoreAnalyticsConfig.model_validate(_store())
    assert [z.id for z in cfg.zones_of("cam-1")] == ["aisle-1", "till-1", "queue-1"]
    assert cfg.lines_of("cam-2") == ()
    assert StoreAnalyticsConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_version_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="version"):
        StoreAnalyticsConfig.model_validate(_store(version=0))


def test_duplicate_ids() -> None:
    zones = _store()["zones"]
    with pytest.raises(ValidationError, match="duplicate zone ids: aisle-1"):
        StoreAnalyticsConfig.model_validate(_store(zones=[*zones, zones[0]]))


def test_funnel_unknown_zone_names_funnel_and_zone() -> None:
    funnels = [
        {
            "id": "buy",
            "name": "Buy",
            "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["aisle-9"]}],
        }
    ]
    with pytest.raises(ValidationError, match="funnel buy: stage 1 names unknown zone aisle-9"):
        StoreAnalyticsConfig.model_validate(_store(funnels=funnels))


def test_zone_limits() -> None:
    many = [
        zone(f"z{i}", square(0.01 * i, 0.1, 0.01 * i + 0.005, 0.2)).model_dump() for i in range(33)
    ]
    with pytest.raises(ValidationError, match="camera cam-1 has 33 zones, at most 32"):
        StoreAnalyticsConfig.model_validate(_store(zones=many, funnels=[]))
    with pytest.raises(ValidationError, match="at most 64"):
        StoreAnalyticsConfig.model_validate(
            _store(lines=[line(f"l{i}", (0.1, 0.1), (0.2, 0.2)).model_dump() for i in range(65)])
        )


def test_camera_ids_consistency() -> None:
    with pytest.raises(ValidationError, match="zone aisle-1: unknown camera cam-1"):
        StoreAnalyticsConfig.model_validate(_store(camera_ids=["cam-2"]))
    ok = StoreAnalyticsConfig.model_validate(_store(camera_ids=["cam-1", "cam-2"]))
    assert ok.camera_ids == ("cam-1", "cam-2")


def test_checkout_links() -> None:
    zones = _store()["zones"]
    queue = zone("queue-2", square(0.1, 0.8, 0.3, 0.9), kind="queue", checkout_zone_ids=["till-1"])
    assert StoreAnalyticsConfig.model_validate(_store(zones=[*zones, queue.model_dump()]))
    bad = zone("queue-2", square(0.1, 0.8, 0.3, 0.9), kind="queue", checkout_zone_ids=["aisle-1"])
    with pytest.raises(ValidationError, match="zone aisle-1 is a area zone, not a checkout"):
        StoreAnalyticsConfig.model_validate(_store(zones=[*zones, bad.model_dump()]))
    unknown = zone("queue-2", square(0.1, 0.8, 0.3, 0.9), kind="queue", checkout_zone_ids=["x"])
    with pytest.raises(ValidationError, match="unknown checkout zone x"):
        StoreAnalyticsConfig.model_validate(_store(zones=[*zones, unknown.model_dump()]))
    other_cam = zone("till-2", square(0.5, 0.5, 0.7, 0.7), kind="checkout", camera_id="cam-2")
    q = zone("queue-2", square(0.1, 0.8, 0.3, 0.9), kind="queue", checkout_zone_ids=["till-2"])
    with pytest.raises(ValidationError, match="is on camera cam-2"):
        StoreAnalyticsConfig.model_validate(
            _store(zones=[*zones, other_cam.model_dump(), q.model_dump()])
        )


def test_physical_areas() -> None:
    a = zone("front-a", square(0.1, 0.1, 0.3, 0.3), physical_area="front")
    b = zone("front-b", square(0.1, 0.1, 0.3, 0.3), camera_id="cam-2", physical_area="front")
    assert StoreAnalyticsConfig.model_validate(
        _store(zones=[a.model_dump(), b.model_dump()], funnels=[])
    )
    same_cam = zone("front-c", square(0.5, 0.5, 0.6, 0.6), physical_area="front")
    with pytest.raises(ValidationError, match="camera cam-1 has more than one zone in it"):
        StoreAnalyticsConfig.model_validate(
            _store(zones=[a.model_dump(), same_cam.model_dump()], funnels=[])
        )
    other_kind = zone(
        "front-d",
        square(0.1, 0.1, 0.3, 0.3),
        kind="display",
        camera_id="cam-3",
        physical_area="front",
    )
    with pytest.raises(ValidationError, match="different kinds"):
        StoreAnalyticsConfig.model_validate(
            _store(zones=[a.model_dump(), other_kind.model_dump()], funnels=[])
        )


def test_engine_settings_defaults_documented() -> None:
    settings = EngineSettings()
    assert (settings.min_frames_inside, settings.min_frames_outside) == (3, 3)
    assert (settings.heatmap_cols, settings.heatmap_rows) == (32, 24)
    for name, info in EngineSettings.model_fields.items():
        assert info.description, name
    for model in (ZoneDefinition, LineDefinition, FunnelDefinition, StoreAnalyticsConfig):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"
    with pytest.raises(ValidationError, match="min_frames_inside"):
        EngineSettings(min_frames_inside=0)
