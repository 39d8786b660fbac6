"""Visits: entry and exit lines, paths, linked visits across cameras, promotion."""

from __future__ import annotations

import pytest

from analytics.config import EngineSettings
from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import AreaOccupancyChanged, EngineEvent, VisitEnded, VisitRecord
from tests.analytics.helpers import at, box, config, frame, line, square, walk, zone

# door line across the bottom of the image: walking up (y decreasing) is "in"
DOOR = line("door", (0.0, 0.9), (1.0, 0.9), in_side="left", counts_store_entry=True)
SHOES = zone("shoes", square(0.1, 0.2, 0.4, 0.6))
TILL = zone("till", square(0.6, 0.2, 0.9, 0.6), kind="checkout")
FUNNEL = {
    "id": "buy",
    "name": "buy",
    "stages": [
        {"kind": "store_entry"},
        {"kind": "zone", "zone_ids": ["shoes"]},
        {"kind": "zone_kind", "zone_kind": "checkout"},
    ],
}


class Replay:
    def __init__(self, engine: StoreAnalytics) -> None:
        self.engine = engine
        self.t = 0.0
        self.seq = 0
        self.events: list[EngineEvent] = []

    def path(
        self,
        points: list[tuple[float, float]],
        track_id: int = 1,
        camera_id: str = "cam-1",
        visit_id: str | None = None,
    ) -> None:
        for p in points:
            self.seq += 1
            self.events += self.engine.process(
                frame(self.seq, self.t, [box(track_id, p, visit_id)], camera_id)
            )
            self.t += 0.1

    def end(self, track_id: int = 1, camera_id: str = "cam-1") -> None:
        self.events += self.engine.end_track(camera_id, track_id, at(self.t))

    def visits(self) -> list[VisitEnded]:
        return [e for e in self.events if isinstance(e, VisitEnded)]


def _shopping_trip(r: Replay, track_id: int = 1, visit_id: str | None = None) -> None:
    legs = [
        walk(track_id, (0.25, 0.99), (0.25, 0.4), 20),  # in through the door to shoes
        [(0.25, 0.4)] * 20,  # browse
        walk(track_id, (0.25, 0.4), (0.75, 0.4), 10),  # to the till
        [(0.75, 0.4)] * 20,
        walk(track_id, (0.75, 0.4), (0.25, 0.4), 10),  # back to shoes
        [(0.25, 0.4)] * 10,
        walk(track_id, (0.25, 0.4), (0.25, 0.99), 20),  # out
    ]
    for leg in legs:
        r.path(leg, track_id=track_id, visit_id=visit_id)


def test_visit_through_the_door() -> None:
    r = Replay(StoreAnalytics(config(zones=[SHOES, TILL], lines=[DOOR], funnels=[FUNNEL])))
    _shopping_trip(r)
    (ended,) = r.visits()
    visit = ended.visit
    assert visit.end_reason == "exited"
    assert visit.entered_store and not visit.linked
    assert visit.visit_id == "cam-1/1"
    assert visit.path == ("shoes", "till", "shoes")
    assert [s.zone_id for s in visit.stays] == ["shoes", "till", "shoes"]
    assert dict(visit.area_dwell_s)["till"] == pytest.approx(2.6, abs=0.3)
    # in across y = 0.9 about 0.3 s into the walk, out at about 10.6 s
    assert visit.entered_at is not None
    assert visit.entered_at.timestamp() - at(0).timestamp() == pytest.approx(0.3, abs=0.05)
    assert visit.duration_s == pytest.approx(10.3, abs=0.1)
    assert ended.funnel_stages == (("buy", 3),)
    assert ended.config_version == 1
    # no visit stays open: the track leaving later changes nothing
    r.end()
    assert len(r.visits()) == 1


def test_reentry_is_a_second_visit() -> None:
    r = Replay(StoreAnalytics(config(zones=[SHOES, TILL], lines=[DOOR])))
    _shopping_trip(r)
    r.path(walk(1, (0.25, 0.99), (0.25, 0.7), 10))  # comes back in, same track
    r.end()
    first, second = (e.visit for e in r.visits())
    assert second.visit_id == first.visit_id and second.ordinal == 2
    assert second.entered_store and second.end_reason == "track_ended"


def test_unlinked_track_end_closes_the_visit_at_last_sighting() -> None:
    r = Replay(StoreAnalytics(config(zones=[SHOES])))
    r.path([(0.25, 0.4)] * 30)
    last_seen = at(r.t - 0.1)
    r.t += 5.0
    r.end()
    (ended,) = r.visits()
    assert ended.visit.end_reason == "track_ended"
    assert ended.visit.ended_at == last_seen
    assert not ended.visit.entered_store


def test_passer_by_makes_no_visit() -> None:
    r = Replay(StoreAnalytics(config(zones=[SHOES], lines=[DOOR])))
    r.path(walk(1, (0.9, 0.95), (0.95, 0.95), 10))
    r.end()
    assert r.visits() == []


def test_linked_visit_spans_cameras_and_dedupes_physical_areas() -> None:
    front_a = zone("front-a", square(0.1, 0.1, 0.9, 0.9), physical_area="front")
    front_b = zone("front-b", square(0.1, 0.1, 0.9, 0.9), camera_id="cam-2", physical_area="front")
    engine = StoreAnalytics(config(zones=[front_a, front_b]), EngineSettings(visit_timeout_s=30.0))
    r = Replay(engine)
    # seen by camera 1 for 3 s, then by both at once (interleaved frames) for 2 s
    r.path([(0.5, 0.5)] * 30, visit_id="v-42")
    for _ in range(20):
        r.path([(0.5, 0.5)], visit_id="v-42")
        r.path([(0.5, 0.5)], track_id=9, camera_id="cam-2", visit_id="v-42")
    r.end()
    r.end(track_id=9, camera_id="cam-2")
    assert r.visits() == []  # linked: waits for the timeout, they may turn up elsewhere
    area = [e for e in r.events if isinstance(e, AreaOccupancyChanged)]
    assert [(e.area, e.count) for e in area] == [("front", 1), ("front", 0)]
    r.path([], track_id=9)
    r.t += 31.0
    r.path([(0.01, 0.01)], track_id=77)  # any later frame drives the timeout
    ended = [e.visit for e in r.visits() if e.visit.linked]
    assert len(ended) == 1
    visit = ended[0]
    assert visit.visit_id == "v-42" and visit.end_reason == "timeout"
    assert visit.camera_ids == ("cam-1", "cam-2")
    assert visit.path == ("front",)
    # 7 s in view (3 s alone, 4 s interleaved); counted once, not 3 + 2 x 2 s
    assert dict(visit.area_dwell_s)["front"] == pytest.approx(6.9, abs=0.3)


def test_identity_resolving_later_keeps_earlier_stays() -> None:
    r = Replay(
        StoreAnalytics(config(zones=[SHOES, TILL], lines=[DOOR]), EngineSettings(visit_timeout_s=5))
    )
    r.path(walk(1, (0.25, 0.99), (0.25, 0.4), 20))  # entered and in shoes, unlinked
    r.path([(0.25, 0.4)] * 10, visit_id="v-7")  # identity resolves
    r.path(walk(1, (0.25, 0.4), (0.75, 0.4), 10), visit_id="v-7")
    r.path([(0.75, 0.4)] * 10, visit_id="v-7")
    r.end()
    r.t += 6.0
    r.path([(0.01, 0.01)], track_id=2)
    r.end(track_id=2)
    visits: list[VisitRecord] = [e.visit for e in r.visits()]
    linked = [v for v in visits if v.linked]
    assert len(linked) == 1
    assert linked[0].visit_id == "v-7"
    assert linked[0].entered_store
    assert [s.zone_id for s in linked[0].stays] == ["shoes", "till"]
    assert not [v for v in visits if v.visit_id == "cam-1/1"]
