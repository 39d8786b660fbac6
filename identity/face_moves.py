"""Moving and closing face states, and the events that say where a track stands.

The gate (`identity.gate`) decides; this carries out what follows from an ID switch
(`identity.consistency`: a face state taken over from an ended track, or two tracks'
face states swapped), a contradiction (the vote stops, a resolved identity is withdrawn),
a withdrawal, and a visit merge, keeping the registry's and the visits' sightings on the
tracks that now show each face, and produces the outcomes that announce it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from identity.metrics import IdentityMetrics
from identity.outcomes import (
    ContradictionReason,
    Outcome,
    Resolved,
    Unknown,
    UnknownReason,
    Withdrawn,
    WithdrawReason,
)
from identity.registry import ActiveIdentityRegistry
from identity.tracks import FaceState, LostFace, Track
from identity.visit_linking import VisitLinker
from identity.voting import Tally


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def unknown_reason(tally: Tally) -> UnknownReason:
    """Why a full window did not resolve its track."""
    if tally.reason == "low_confidence":
        return "low_confidence"
    return "no_majority" if tally.leader is not None else "no_match"


def current_reason(face: FaceState) -> UnknownReason:
    """Why the face state is not resolved, as of now."""
    if len(face.window) < face.window.size:
        return "insufficient_observations"
    return unknown_reason(face.window.tally())


class FaceMoves:
    def __init__(
        self, registry: ActiveIdentityRegistry, visits: VisitLinker, metrics: IdentityMetrics
    ) -> None:
        self.registry = registry
        self.visits = visits
        self.metrics = metrics

    def take_over(self, track: Track, lost: LostFace, t: float, outcomes: list[Outcome]) -> None:
        """The tracker gave this person a new id: the ended track's face state moves to
        the new track (which had no face of its own yet)."""
        face = lost.face
        face.since, face.pending_switch = t, None
        track.face = face
        self._attach(track)
        self.metrics.id_switches.labels("takeover").inc()
        announced = self.announce(track, t, "id_switch")
        if announced is not None:
            outcomes.append(announced)

    def swap(self, track: Track, other: Track, t: float, outcomes: list[Outcome]) -> None:
        """The tracker swapped two people's ids: their face states swap back."""
        before = {track.key: track.face.customer_id, other.key: other.face.customer_id}
        for moved in (track, other):
            self._detach(moved)
        track.face, other.face = other.face, track.face
        for moved in (track, other):
            moved.face.since, moved.face.pending_switch = t, None
            self._attach(moved)
        self.metrics.id_switches.labels("swap").inc()
        for moved in (track, other):
            old = before[moved.key]
            if old is not None and old != moved.face.customer_id:
                self.metrics.withdrawn.labels("id_switch").inc()
                outcomes.append(Withdrawn(moved.info(), _dt(t), old, "id_switch"))
            announced = self.announce(moved, t, "id_switch")
            if announced is not None:
                outcomes.append(announced)

    def _detach(self, track: Track) -> None:
        face = track.face
        if face.customer_id is not None:
            self.registry.detach(face.customer_id, track.key)
        self.visits.gallery.detach(face.visit_id, track.sighting_key)

    def _attach(self, track: Track) -> None:
        face = track.face
        if face.customer_id is not None:
            self.registry.record(face.customer_id, track.sighting())
        if face.visit_scope == "linked":
            self.visits.gallery.extend(face.visit_id, track.sighting_key, track.interval)

    def contradict(self, track: Track, reason: ContradictionReason, t: float) -> list[Outcome]:
        """The track's faces point to two people: its vote stops for good."""
        face = track.face
        if face.contradicted is not None:
            return []
        face.contradicted, face.pending_switch = reason, None
        self.metrics.contradicted.labels(reason).inc()
        outcomes: list[Outcome] = []
        if face.customer_id is not None:
            self.metrics.flicker.inc()
            outcomes.append(self.withdraw(track, "contradicted", t))
        face.window.clear()
        face.visit_window.clear()
        face.unknown_emitted = True
        outcomes.append(
            Unknown(
                track.info(), _dt(t), "contradicted", face.observations, face.best_score, reason
            )
        )
        return outcomes

    def announce(self, track: Track, t: float, reason: UnknownReason) -> Outcome | None:
        """The event that tells where the track's face state stands now (after it moved,
        or its visit changed): resolved, or unknown with its visit."""
        face = track.face
        at = _dt(t)
        if face.customer_id is not None:
            vip = self.registry.get(face.customer_id)
            return Resolved(
                track.info(),
                at,
                face.customer_id,
                face.confidence,
                max(face.votes, 1),
                face.window.size,
                vip.vip if vip is not None else False,
            )
        if face.unknown_emitted or face.visit_scope == "linked":
            face.unknown_emitted = True
            return Unknown(track.info(), at, reason, face.observations, face.best_score)
        return None

    def relabel(
        self,
        old: uuid.UUID,
        new: uuid.UUID,
        merging: Track,
        tracks: Iterable[Track],
        lost: Iterable[LostFace],
        t: float,
    ) -> list[Outcome]:
        """Visit `old` was merged into `new`: its other tracks say so too."""
        outcomes: list[Outcome] = []
        for gone in lost:
            if gone.face.visit_id == old:
                gone.face.visit_id = new
        for track in tracks:
            if track is not merging and track.face.visit_id == old:
                track.face.visit_id = new
                announced = self.announce(track, t, current_reason(track.face))
                if announced is not None:
                    outcomes.append(announced)
        return outcomes

    def withdraw(self, track: Track, reason: WithdrawReason, t: float) -> Withdrawn:
        face = track.face
        customer = face.customer_id
        assert customer is not None
        self.registry.detach(customer, track.key)
        face.customer_id = None
        face.blocked.add(customer)
        face.window.clear()
        self.metrics.withdrawn.labels(reason).inc()
        return Withdrawn(track.info(), _dt(t), customer, reason)
