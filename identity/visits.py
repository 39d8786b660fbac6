"""Anonymous visitors: the visit-scoped gallery of face templates.

An unknown visitor's tracks on different cameras (and one camera, later) share one visit
id when their faces link here. The gate (`identity.gate`) votes each track into a visit
with the same precision-first rules as identity resolution (quality gate, voting window,
majority, mean score, runner-up margin, the spatiotemporal gate, contradictions); this
module only keeps the visits: one template per visit (an EMA of its tracks' templates and
strong faces), the sightings of its tracks, and their expiry.

Privacy by construction:
- templates live only in this object's memory, in the identity service: nothing here is
  written to a file, a snapshot, a log or an event, and the template is left out of
  `repr` so that no log line can carry it by accident;
- a visit ends when it has not been seen for `gap_s` (at most 4 h), and its templates go
  with it; they are also deleted `max_duration_s` after the visit began, seen or not;
- `erase(visit_id)` deletes a visit's template and sightings at once.
Outside this module a visit is only its random id (uuid4, never derived from a face).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from identity.config import VisitConfig
from identity.topology import CameraTopology, Compatibility, Interval
from identity.vectors import Vector, ema

SightingKey = tuple[str, int, uuid.UUID]  # camera, track id, track instance


@dataclass
class Visit:
    visit_id: uuid.UUID
    first: float
    last: float
    template: Vector = field(repr=False)
    sightings: dict[SightingKey, Interval] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VisitConflict:
    """A sighting of the visit that the person of another sighting cannot also be."""

    other: SightingKey
    verdict: Compatibility


class VisitGallery:
    """The visits of one store, in memory (module docs). Not thread-safe (the gate's
    caller serializes)."""

    def __init__(self, config: VisitConfig, topology: CameraTopology) -> None:
        self.config = config
        self.topology = topology
        self._visits: dict[uuid.UUID, Visit] = {}
        self._matrix: tuple[list[uuid.UUID], Vector] | None = None

    def __len__(self) -> int:
        return len(self._visits)

    def __contains__(self, visit_id: object) -> bool:
        return visit_id in self._visits

    def get(self, visit_id: uuid.UUID) -> Visit | None:
        return self._visits.get(visit_id)

    def templates(self) -> int:
        """Templates held (one per visit): what erasure and expiry must bring to 0."""
        return len(self._visits)

    # --- matching ---------------------------------------------------------------------

    def ranked(self, probe: Vector, limit: int) -> list[tuple[uuid.UUID, float]]:
        """The `limit` best visits for a probe, best first."""
        if self._matrix is None:
            ids = list(self._visits)
            matrix = (
                np.stack([self._visits[v].template for v in ids])
                if ids
                else np.zeros((0, probe.size), np.float32)
            )
            self._matrix = (ids, matrix)
        ids, matrix = self._matrix
        if not ids:
            return []
        scores = matrix @ probe
        order = np.argsort(-scores)[:limit]
        return [(ids[i], float(scores[i])) for i in order]

    def conflicts(
        self, visit_id: uuid.UUID, here: Interval, own: SightingKey | None
    ) -> list[VisitConflict]:
        """The visit's sightings (other than `own`) the person at `here` cannot also be."""
        visit = self._visits.get(visit_id)
        if visit is None:
            return []
        found = []
        for key, interval in visit.sightings.items():
            if key == own:
                continue
            verdict = self.topology.compatible(interval, here)
            if not verdict.ok:
                found.append(VisitConflict(key, verdict))
        return found

    # --- changes ----------------------------------------------------------------------

    def create(self, visit_id: uuid.UUID, template: Vector, key: SightingKey, at: Interval) -> None:
        self._make_room()
        self._visits[visit_id] = Visit(visit_id, at.first, at.last, template, {key: at})
        self._matrix = None

    def join(self, visit_id: uuid.UUID, template: Vector, key: SightingKey, at: Interval) -> bool:
        """A track joins the visit: its template is folded in; False if the visit ended."""
        visit = self._visits.get(visit_id)
        if visit is None:
            return False
        visit.template = ema(visit.template, template, self.config.template_alpha)
        self._matrix = None
        self.extend(visit_id, key, at)
        return True

    def extend(self, visit_id: uuid.UUID, key: SightingKey, at: Interval) -> bool:
        """Record (or lengthen) a sighting of the visit; False if the visit ended."""
        visit = self._visits.get(visit_id)
        if visit is None:
            return False
        current = visit.sightings.get(key)
        visit.sightings[key] = (
            at
            if current is None
            else Interval(at.camera_id, min(current.first, at.first), max(current.last, at.last))
        )
        visit.last = max(visit.last, at.last)
        return True

    def merge(self, younger: uuid.UUID, *, into: uuid.UUID) -> bool:
        """Fold visit `younger` into the older visit `into` (one person's two visits):
        False, changing nothing, unless both exist, `into` began first and every sighting
        of one is compatible with every sighting of the other."""
        source, target = self._visits.get(younger), self._visits.get(into)
        if source is None or target is None or younger == into or target.first > source.first:
            return False
        for interval in source.sightings.values():
            for other in target.sightings.values():
                if not self.topology.compatible(interval, other).ok:
                    return False
        target.template = ema(target.template, source.template, self.config.template_alpha)
        target.sightings.update(source.sightings)
        target.first, target.last = min(target.first, source.first), max(target.last, source.last)
        del self._visits[younger]
        self._matrix = None
        return True

    def detach(self, visit_id: uuid.UUID, key: SightingKey) -> None:
        visit = self._visits.get(visit_id)
        if visit is not None:
            visit.sightings.pop(key, None)

    def update_template(self, visit_id: uuid.UUID, sample: Vector) -> bool:
        visit = self._visits.get(visit_id)
        if visit is None:
            return False
        visit.template = ema(visit.template, sample, self.config.template_alpha)
        self._matrix = None
        return True

    def erase(self, visit_id: uuid.UUID) -> bool:
        """Delete the visit's template and sightings; True if it was there."""
        found = self._visits.pop(visit_id, None) is not None
        if found:
            self._matrix = None
        return found

    def expire(self, now: float) -> list[uuid.UUID]:
        """End visits unseen for `gap_s` or begun more than `max_duration_s` ago."""
        unseen = now - self.config.gap_s
        too_old = now - self.config.max_duration_s
        gone = [v.visit_id for v in self._visits.values() if v.last < unseen or v.first < too_old]
        for visit_id in gone:
            del self._visits[visit_id]
        if gone:
            self._matrix = None
        return gone

    def _make_room(self) -> None:
        while len(self._visits) >= self.config.max_visits:
            oldest = min(self._visits.values(), key=lambda v: v.last)
            del self._visits[oldest.visit_id]
            self._matrix = None
