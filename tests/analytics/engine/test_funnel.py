"""Funnels over completed visits: stage reached, conversion, time between stages."""

from __future__ import annotations

import pytest

from analytics.engine.events import StayRecord, VisitRecord
from analytics.engine.funnel import evaluate, stage_times, stages_reached
from tests.analytics.helpers import at
from trinetra.config.analytics import FunnelDefinition

FUNNEL = FunnelDefinition.model_validate(
    {
        "id": "buy",
        "name": "Entry to checkout",
        "stages": [
            {"kind": "store_entry"},
            {"kind": "zone", "zone_ids": ["shoes", "bags"]},
            {"kind": "zone_kind", "zone_kind": "checkout"},
        ],
    }
)


def _stay(zone_id: str, kind: str, start: float, end: float) -> StayRecord:
    return StayRecord("cam-1", zone_id, kind, zone_id, at(start), at(end), end - start)


def _visit(entered: float | None, *stays: StayRecord) -> VisitRecord:
    return VisitRecord(
        visit_id="v",
        ordinal=1,
        linked=True,
        customer_id=None,
        camera_ids=("cam-1",),
        started_at=at(0.0),
        entered_at=None if entered is None else at(entered),
        ended_at=at(1000.0),
        end_reason="exited",
        duration_s=1000.0,
        stays=stays,
        path=tuple(s.area for s in stays),
        area_dwell_s=(),
    )


def test_stages_in_order() -> None:
    full = _visit(1.0, _stay("shoes", "area", 10, 20), _stay("till", "checkout", 50, 60))
    assert stages_reached(FUNNEL, full) == 3
    assert stage_times(FUNNEL, full) == (at(1.0), at(10.0), at(50.0))
    # checkout before the display zone does not count as converting after it
    backwards = _visit(1.0, _stay("till", "checkout", 5, 8), _stay("bags", "area", 10, 20))
    assert stages_reached(FUNNEL, backwards) == 2
    # no store entry: the funnel does not even start
    assert stages_reached(FUNNEL, _visit(None, _stay("shoes", "area", 10, 20))) == 0


def test_earliest_qualifying_stay_is_used() -> None:
    visit = _visit(
        1.0,
        _stay("bags", "area", 30, 40),
        _stay("shoes", "area", 10, 20),
        _stay("till", "checkout", 50, 60),
    )
    assert stage_times(FUNNEL, visit)[1] == at(10.0)


def test_report() -> None:
    visits = [
        _visit(0.0, _stay("shoes", "area", 10, 20), _stay("till", "checkout", 40, 50)),
        _visit(0.0, _stay("bags", "area", 20, 30)),
        _visit(0.0),
        _visit(None, _stay("shoes", "area", 10, 20)),
    ]
    report = evaluate(FUNNEL, visits)
    assert report.visits == 4
    assert [s.reached for s in report.stages] == [3, 2, 1]
    assert report.stages[0].conversion_from_previous is None
    assert report.stages[1].conversion_from_start == pytest.approx(2 / 3)
    assert report.stages[2].conversion_from_previous == pytest.approx(0.5)
    assert report.stages[1].median_s_from_previous == pytest.approx(15.0)
    assert report.stages[2].mean_s_from_previous == pytest.approx(30.0)
    empty = evaluate(FUNNEL, [])
    assert [s.conversion_from_start for s in empty.stages] == [None, None, None]
