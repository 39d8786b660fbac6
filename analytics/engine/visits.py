"""Store visits: who came in, where they went, how long they stayed.

A visit is keyed by the identity service's `visit_id` when the track carries one: that
id is shared by every track of the same person on any camera, so the visit spans
cameras (`linked=True`). Without one the key is "<camera>/<track>" and the visit is
that single track (`linked=False`): an unlinked person seen by two cameras is two
visits, and a tracker id switch splits a visit in two; consumers should weigh unlinked
figures accordingly.

Lifecycle:
- A visit opens when a track is first seen (or crosses a store-entry line "in" after
  having left). `entered_at` is set by the first "in" crossing of a line with
  `counts_store_entry`; a visit without one never came through a counted door (a camera
  inside the store, or the entrance is not covered).
- It ends when it crosses a store-entry line "out" (reason 'exited'); an unlinked visit
  ends with its track ('track_ended', at the track's last sighting); a linked visit ends
  `visit_timeout_s` after its last track ended ('timeout'), since the person may still
  turn up on another camera.
- A track that gains a visit id while in an unlinked visit moves that visit (its stays,
  its entry) into the linked one, so what was seen before identity resolved is kept.
- Only visits that entered the store or stayed in at least one zone are reported: a
  track that crossed nothing and stayed nowhere (a passer-by at the edge of the view, a
  false positive) says nothing about the store.

The reported `path` is the areas entered, in order of entry, consecutive repeats
removed; `area_dwell_s` unions the stays' intervals per physical area, so a physical area
seen by two cameras is counted once for a linked visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analytics.engine.events import (
    Direction,
    JsonValue,
    StayRecord,
    VisitEndReason,
    VisitRecord,
)
from analytics.engine.zones import to_datetime

TrackKey = tuple[str, int]  # (camera id, track id)


@dataclass(slots=True)
class _Stay:
    camera_id: str
    track_id: int
    zone_id: str
    zone_kind: str
    area: str
    entered: float
    exited: float | None = None


class _Visit:
    __slots__ = (
        "cameras",
        "customer_id",
        "dormant_since",
        "entered_at",
        "key",
        "last_seen",
        "linked",
        "live",
        "ordinal",
        "started_at",
        "stays",
    )

    def __init__(self, key: str, ordinal: int, linked: bool, started_at: float) -> None:
        self.key = key
        self.ordinal = ordinal
        self.linked = linked
        self.started_at = started_at
        self.last_seen = started_at
        self.entered_at: float | None = None
        self.customer_id: str | None = None
        self.cameras: dict[str, None] = {}  # ordered set
        self.live: dict[TrackKey, None] = {}  # tracks currently carrying this visit
        self.stays: list[_Stay] = []
        self.dormant_since: float | None = None


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    end = -float("inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


class VisitTracker:
    """All open visits of one store."""

    def __init__(self, visit_timeout_s: float) -> None:
        self.visit_timeout = visit_timeout_s
        self._open: dict[str, _Visit] = {}
        self._track_key: dict[TrackKey, str] = {}
        # (key, linked) a track's visit goes under (also remembered while it is outside)
        self._wanted: dict[TrackKey, tuple[str, bool]] = {}
        self._outside: dict[TrackKey, None] = {}  # crossed out: no visit until back in
        self._ordinals: dict[str, tuple[int, float]] = {}  # key -> (last ordinal, ended at)
        self._done: list[VisitRecord] = []

    # --- inputs -------------------------------------------------------------------

    def track_seen(
        self,
        camera_id: str,
        track_id: int,
        visit_id: str | None,
        customer_id: str | None,
        t: float,
    ) -> None:
        """A new track, or a known one whose visit or customer id changed. A visit id
        that disappears again (identity withdrawn) leaves the track where it is."""
        tk = (camera_id, track_id)
        if visit_id is not None:
            wanted = (visit_id, True)
        else:
            wanted = self._wanted.get(tk, (f"{camera_id}/{track_id}", False))
        self._wanted[tk] = wanted
        if tk in self._outside:
            return
        current = self._track_key.get(tk)
        if current is None:
            self._attach(tk, wanted[0], wanted[1], t)
        elif current != wanted[0]:
            visit = self._open[current]
            visit.last_seen = max(visit.last_seen, t)
            if not visit.linked and wanted[1] and list(visit.live) == [tk]:
                self._promote(visit, wanted[0])
            else:
                self._detach(tk, visit)
                self._attach(tk, wanted[0], wanted[1], t)
        if customer_id is not None:
            self._open[self._track_key[tk]].customer_id = customer_id

    def _attach(self, tk: TrackKey, key: str, linked: bool, t: float) -> _Visit:
        visit = self._open.get(key)
        if visit is None:
            ordinal = self._ordinals.get(key, (0, 0.0))[0] + 1
            visit = _Visit(key, ordinal, linked, t)
            self._open[key] = visit
        visit.live[tk] = None
        visit.cameras[tk[0]] = None
        visit.dormant_since = None
        self._track_key[tk] = key
        return visit

    def _detach(self, tk: TrackKey, visit: _Visit) -> None:
        visit.live.pop(tk, None)
        self._track_key.pop(tk, None)
        if not visit.live:
            if visit.linked:
                visit.dormant_since = visit.last_seen
            else:
                self._close(visit, "track_ended", visit.last_seen)

    def _promote(self, visit: _Visit, key: str) -> None:
        """An unlinked visit whose only track got a visit id joins (or becomes) the
        linked visit."""
        del self._open[visit.key]
        target = self._open.get(key)
        if target is None:
            visit.key = key
            visit.linked = True
            visit.ordinal = self._ordinals.get(key, (0, 0.0))[0] + 1
            self._open[key] = visit
            target = visit
        else:
            target.started_at = min(target.started_at, visit.started_at)
            target.last_seen = max(target.last_seen, visit.last_seen)
            if visit.entered_at is not None and (
                target.entered_at is None or visit.entered_at < target.entered_at
            ):
                target.entered_at = visit.entered_at
            target.stays.extend(visit.stays)
            target.cameras.update(visit.cameras)
            target.live.update(visit.live)
            target.dormant_since = None
            if target.customer_id is None:
                target.customer_id = visit.customer_id
        for tk in visit.live:
            self._track_key[tk] = key

    def track_ended(self, camera_id: str, track_id: int, last_seen: float) -> None:
        tk = (camera_id, track_id)
        self._outside.pop(tk, None)
        self._wanted.pop(tk, None)
        key = self._track_key.get(tk)
        if key is None:
            return
        visit = self._open[key]
        visit.last_seen = max(visit.last_seen, last_seen)
        self._detach(tk, visit)

    def zone_entered(
        self,
        camera_id: str,
        track_id: int,
        zone_id: str,
        zone_kind: str,
        area: str,
        entered: float,
    ) -> None:
        key = self._track_key.get((camera_id, track_id))
        if key is None:
            return
        visit = self._open[key]
        visit.stays.append(_Stay(camera_id, track_id, zone_id, zone_kind, area, entered))

    def zone_exited(self, camera_id: str, track_id: int, zone_id: str, exited: float) -> None:
        key = self._track_key.get((camera_id, track_id))
        if key is None:
            return
        visit = self._open[key]
        visit.last_seen = max(visit.last_seen, exited)
        for stay in reversed(visit.stays):
            if (
                stay.exited is None
                and stay.zone_id == zone_id
                and stay.track_id == track_id
                and stay.camera_id == camera_id
            ):
                stay.exited = exited
                return

    def crossed(
        self, camera_id: str, track_id: int, direction: Direction, crossed_at: float
    ) -> None:
        """A crossing of a store-entry line."""
        tk = (camera_id, track_id)
        if direction == "in":
            if tk in self._outside:
                del self._outside[tk]
                wanted, linked = self._wanted.get(tk, (f"{camera_id}/{track_id}", False))
                self._attach(tk, wanted, linked, crossed_at)
            current = self._track_key.get(tk)
            if current is not None:
                entering = self._open[current]
                entering.started_at = min(entering.started_at, crossed_at)
                if entering.entered_at is None:
                    entering.entered_at = crossed_at
            return
        key = self._track_key.get(tk)
        if key is None:
            return
        visit = self._open[key]
        visit.last_seen = max(visit.last_seen, crossed_at)
        for other in list(visit.live):
            self._track_key.pop(other, None)
            self._outside[other] = None
        visit.live.clear()
        self._close(visit, "exited", crossed_at)

    def tick(self, t: float) -> None:
        """Close linked visits whose last track ended `visit_timeout_s` ago; forget the
        ordinals of keys idle for that long."""
        expired = [
            v
            for v in self._open.values()
            if v.dormant_since is not None and t - v.dormant_since >= self.visit_timeout
        ]
        for visit in expired:
            self._close(visit, "timeout", visit.last_seen)
        if self._ordinals:
            timeout = self.visit_timeout
            stale = [k for k, (_n, ended) in self._ordinals.items() if t - ended >= timeout]
            for key in stale:
                if key not in self._open:
                    del self._ordinals[key]

    def close_all(self) -> None:
        """End every open visit now (end of a replay): as its tracks' ends would."""
        for visit in list(self._open.values()):
            for tk in list(visit.live):
                self._track_key.pop(tk, None)
            visit.live.clear()
            self._close(visit, "timeout" if visit.linked else "track_ended", visit.last_seen)

    def take_completed(self) -> list[VisitRecord]:
        """Visits completed since the last call, in completion order."""
        done = self._done
        self._done = []
        return done

    @property
    def open_count(self) -> int:
        return len(self._open)

    # --- completion ---------------------------------------------------------------

    def _close(self, visit: _Visit, reason: VisitEndReason, ended: float) -> None:
        del self._open[visit.key]
        self._ordinals[visit.key] = (visit.ordinal, ended)
        ended = max(ended, visit.started_at)
        stays = []
        for stay in visit.stays:
            exited = stay.exited if stay.exited is not None else max(ended, stay.entered)
            stays.append(
                StayRecord(
                    camera_id=stay.camera_id,
                    zone_id=stay.zone_id,
                    zone_kind=stay.zone_kind,
                    area=stay.area,
                    entered_at=to_datetime(stay.entered),
                    exited_at=to_datetime(exited),
                    dwell_s=exited - stay.entered,
                )
            )
        if visit.entered_at is None and not stays:
            return
        order = sorted(range(len(stays)), key=lambda i: (visit.stays[i].entered, i))
        ordered = [stays[i] for i in order]
        path: list[str] = []
        intervals: dict[str, list[tuple[float, float]]] = {}
        for i in order:
            stay = visit.stays[i]
            if not path or path[-1] != stay.area:
                path.append(stay.area)
            exited = stay.exited if stay.exited is not None else max(ended, stay.entered)
            intervals.setdefault(stay.area, []).append((stay.entered, exited))
        self._done.append(
            VisitRecord(
                visit_id=visit.key,
                ordinal=visit.ordinal,
                linked=visit.linked,
                customer_id=visit.customer_id,
                camera_ids=tuple(visit.cameras),
                started_at=to_datetime(visit.started_at),
                entered_at=None if visit.entered_at is None else to_datetime(visit.entered_at),
                ended_at=to_datetime(ended),
                end_reason=reason,
                duration_s=max(
                    0.0,
                    ended
                    - (visit.entered_at if visit.entered_at is not None else visit.started_at),
                ),
                stays=tuple(ordered),
                path=tuple(path),
                area_dwell_s=tuple(
                    (area, _union_seconds(spans)) for area, spans in intervals.items()
                ),
            )
        )

    # --- durable state ------------------------------------------------------------

    def to_json(self) -> dict[str, JsonValue]:
        visits: list[JsonValue] = []
        for v in self._open.values():
            visits.append(
                {
                    "key": v.key,
                    "ordinal": v.ordinal,
                    "linked": v.linked,
                    "started_at": v.started_at,
                    "last_seen": v.last_seen,
                    "entered_at": v.entered_at,
                    "customer_id": v.customer_id,
                    "cameras": list(v.cameras),
                    "live": [[c, tid] for c, tid in v.live],
                    "dormant_since": v.dormant_since,
                    "stays": [_stay_json(st) for st in v.stays],
                }
            )
        return {
            "visits": visits,
            "track_key": [[c, tid, k] for (c, tid), k in self._track_key.items()],
            "wanted": [[c, tid, k, linked] for (c, tid), (k, linked) in self._wanted.items()],
            "outside": [[c, tid] for c, tid in self._outside],
            "ordinals": [[k, n, e] for k, (n, e) in self._ordinals.items()],
        }

    def load(self, data: dict[str, JsonValue]) -> None:
        self._open = {}
        for raw in _list(data["visits"]):
            assert isinstance(raw, dict)
            visit = _Visit(
                _str(raw["key"]), _int(raw["ordinal"]), bool(raw["linked"]), _num(raw["started_at"])
            )
            visit.last_seen = _num(raw["last_seen"])
            visit.entered_at = _opt_num(raw["entered_at"])
            customer = raw["customer_id"]
            visit.customer_id = customer if isinstance(customer, str) else None
            visit.cameras = {_str(c): None for c in _list(raw["cameras"])}
            visit.live = {(_str(r[0]), _int(r[1])): None for r in map(_list, _list(raw["live"]))}
            visit.dormant_since = _opt_num(raw["dormant_since"])
            for row in map(_list, _list(raw["stays"])):
                camera, tid, zone, kind, area, entered, exited = row
                visit.stays.append(
                    _Stay(
                        _str(camera),
                        _int(tid),
                        _str(zone),
                        _str(kind),
                        _str(area),
                        _num(entered),
                        _opt_num(exited),
                    )
                )
            self._open[visit.key] = visit
        self._track_key = {
            (_str(r[0]), _int(r[1])): _str(r[2]) for r in map(_list, _list(data["track_key"]))
        }
        self._wanted = {
            (_str(r[0]), _int(r[1])): (_str(r[2]), bool(r[3]))
            for r in map(_list, _list(data["wanted"]))
        }
        self._outside = {(_str(r[0]), _int(r[1])): None for r in map(_list, _list(data["outside"]))}
        self._ordinals = {
            _str(r[0]): (_int(r[1]), _num(r[2])) for r in map(_list, _list(data["ordinals"]))
        }


def _stay_json(stay: _Stay) -> list[JsonValue]:
    return [
        stay.camera_id,
        stay.track_id,
        stay.zone_id,
        stay.zone_kind,
        stay.area,
        stay.entered,
        stay.exited,
    ]


def _list(value: JsonValue) -> list[JsonValue]:
    assert isinstance(value, list)
    return value


def _str(value: JsonValue) -> str:
    assert isinstance(value, str)
    return value


def _int(value: JsonValue) -> int:
    assert isinstance(value, int) and not isinstance(value, bool)
    return value


def _num(value: JsonValue) -> float:
    assert isinstance(value, int | float) and not isinstance(value, bool)
    return float(value)


def _opt_num(value: JsonValue) -> float | None:
    return None if value is None else _num(value)


def stays_for(records: Sequence[VisitRecord], zone_id: str) -> list[StayRecord]:
    """Every stay in a zone across visits (for reports and tests)."""
    return [s for r in records for s in r.stays if s.zone_id == zone_id]
