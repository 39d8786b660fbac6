"""Voting a track into an anonymous visit (the gallery itself: `identity.visits`).

Each quality face of a track that is not yet linked votes for the visit whose template it
matches best, under the rules of identity resolution: the match threshold of its camera
(the companion threshold for companions), the runner-up margin, and the spatiotemporal
gate (every sighting of the visit must be compatible with being here now). When the
track's window is full, a majority with the accepted mean joins the visit; anything else
starts a new visit with the track's own visit id. Either way the track is then "linked":
its visit id is face-backed and other tracks can join it. A linked track keeps lengthening
its visit's sighting, and strong, high-quality faces refine the visit's template; if the
track turns out to be somewhere the visit's other tracks make impossible, it is split off
into a visit of its own.

A track that started a new visit votes for `recheck_windows` more windows among the other
visits: one person first seen by two overlapping cameras at once starts two visits (each
track's window filled before the other's visit existed), and the younger one is merged
into the older when such a window elects it. Only younger into older, so two tracks never
merge each other's visits back and forth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

from identity.config import IdentityConfig
from identity.metrics import IdentityMetrics
from identity.topology import CameraTopology, Interval
from identity.tracks import Track
from identity.vectors import Vector
from identity.visits import VisitGallery
from identity.voting import Vote

VisitChange = Literal["joined", "new", "split", "merged"]


class VisitLinker:
    def __init__(
        self,
        config: IdentityConfig,
        topology: CameraTopology,
        metrics: IdentityMetrics,
        visit_ids: Callable[[], uuid.UUID],
    ) -> None:
        self.config = config
        self.gallery = VisitGallery(config.visits, topology)
        self.metrics = metrics
        self._visit_ids = visit_ids
        self.merged_from: uuid.UUID | None = None  # the visit the last "merged" folded in

    def observe(
        self, track: Track, probe: Vector, quality: float, t: float, companion: bool
    ) -> VisitChange | None:
        """One quality face of `track`; what changed about its visit, if anything."""
        face = track.face
        if not self.config.visits.enabled or not face.active:
            return None
        if face.visit_scope == "track":
            face.visit_window.add(self._vote(track, probe, t, companion))
            if len(face.visit_window) < face.visit_window.size:
                return None
            return self._decide(track, probe)
        if face.visit_rechecks > 0:
            face.visit_window.add(self._vote(track, probe, t, companion, exclude=face.visit_id))
            if len(face.visit_window) >= face.visit_window.size and self._recheck(track):
                return "merged"
        return self._follow(track, probe, quality)

    def _vote(
        self,
        track: Track,
        probe: Vector,
        t: float,
        companion: bool,
        exclude: uuid.UUID | None = None,
    ) -> Vote:
        match = self.config.match
        ranked = [(v, s) for v, s in self.gallery.ranked(probe, limit=3) if v != exclude][:2]
        if not ranked:
            return Vote(None)
        visit, score = ranked[0]
        threshold = match.threshold_for(track.camera_id, companion=companion)
        if score < threshold:
            return Vote(None, score)
        runner_up = ranked[1][1] if len(ranked) > 1 else -2.0
        if runner_up >= threshold and score - runner_up < match.runner_up_margin:
            return Vote(None, score)
        if visit in track.face.visit_blocked:
            return Vote(None, score)
        here = Interval.point(track.camera_id, t)
        if self.gallery.conflicts(visit, here, track.sighting_key):
            self.metrics.gate_rejections.labels("visit_impossible_transition").inc()
            return Vote(None, score)
        return Vote(str(visit), score)

    def _decide(self, track: Track, probe: Vector) -> VisitChange:
        face = track.face
        template = face.template if face.template is not None else probe
        tally = face.visit_window.tally()
        face.visit_scope = "linked"
        face.visit_window.clear()
        if tally.accepted and tally.leader is not None:
            visit = uuid.UUID(tally.leader)
            compatible = not self.gallery.conflicts(visit, track.interval, track.sighting_key)
            if compatible and self.gallery.join(
                visit, template, track.sighting_key, track.interval
            ):
                face.visit_id = visit
                self.metrics.visits_linked.labels("joined").inc()
                self._count()
                return "joined"
        self.gallery.create(face.visit_id, template, track.sighting_key, track.interval)
        face.visit_rechecks = self.config.visits.recheck_windows
        self.metrics.visits_linked.labels("new").inc()
        self._count()
        return "new"

    def _recheck(self, track: Track) -> bool:
        """A full recheck window: merge the track's (younger) visit into the older visit
        it elected; True if merged (the gate relabels the visit's other tracks)."""
        face = track.face
        tally = face.visit_window.tally()
        face.visit_window.clear()
        face.visit_rechecks -= 1
        if not tally.accepted or tally.leader is None:
            return False
        older, own = uuid.UUID(tally.leader), face.visit_id
        if not self.gallery.merge(own, into=older):
            return False
        face.visit_id, face.visit_rechecks = older, 0
        self.merged_from = own
        self.metrics.visits_linked.labels("merged").inc()
        self._count()
        return True

    def _follow(self, track: Track, probe: Vector, quality: float) -> VisitChange | None:
        face = track.face
        visit = self.gallery.get(face.visit_id)
        if visit is None:
            return None  # ended (expired or erased): the track keeps its id, nothing more
        if self.gallery.conflicts(face.visit_id, track.interval, track.sighting_key):
            # One person cannot be this track and another of the visit: split this one
            # off (its template may have pulled the visit's a little: the visit keeps it).
            self.gallery.detach(face.visit_id, track.sighting_key)
            face.visit_blocked.add(face.visit_id)
            face.visit_id = self._visit_ids()
            template = face.template if face.template is not None else probe
            self.gallery.create(face.visit_id, template, track.sighting_key, track.interval)
            self.metrics.visits_linked.labels("split").inc()
            self._count()
            return "split"
        self.gallery.extend(face.visit_id, track.sighting_key, track.interval)
        strong = float(visit.template @ probe) >= self.config.match.accept_mean
        if strong and quality >= self.config.quality.template_min_quality:
            self.gallery.update_template(face.visit_id, probe)
        return None

    def erase(self, visit_id: uuid.UUID) -> bool:
        found = self.gallery.erase(visit_id)
        self._count()
        return found

    def expire(self, now: float) -> list[uuid.UUID]:
        gone = self.gallery.expire(now)
        if gone:
            self._count()
        return gone

    def _count(self) -> None:
        self.metrics.active_visits.set(len(self.gallery))
