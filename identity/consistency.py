"""Track consistency and the ID-switch reconciler: one track, one person.

Every quality face of a track is compared with the track's running template (an EMA of its
earlier quality faces). A face scoring below `min_similarity` is someone else's. That
happens in two ways, and they must not be confused:

- the tracker switched ids (two people crossed, or a person got a new id): the face is
  another track's person, and the identity should follow it (seeds, production design
  7.1). The reconciler looks for that track on the same camera: a live one whose template
  the face matches (>= `reconcile_min_score`), or one the tracker ended within
  `reconcile_window_s`. An ended track's face state is taken over at once. Two live tracks
  swap only when each shows the other's face: the first far face marks the switch as
  pending (its vote held), and the other track's next face settles it: far and matching
  the first track's template, the two swap; its own face still, the first track is
  contradicted (someone else's face on it while that person is visible elsewhere: a
  bystander's face linked to the wrong person box).
- the track's faces really come from two people (a face of the crowd linked to the
  person box in some frames): no other track explains the face, so the track is
  contradicted.

A contradicted track votes no more (it is reported, and a resolved identity on it is
withdrawn). The gate also contradicts a track whose votes name two different customers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from identity.config import ConsistencyConfig
from identity.tracks import FaceState, LostFace, Track
from identity.vectors import Vector, ema, unit_vector

#: A reconciliation candidate must beat the runner-up by this much: two tracks that the
#: face matches about equally well are no evidence for either.
RECONCILE_MARGIN = 0.03


@dataclass(frozen=True, slots=True)
class Consistent:
    """The face fits the track (or the track has no template yet)."""

    score: float | None


@dataclass(frozen=True, slots=True)
class TakeOver:
    """The face is that of a track the tracker ended: its face state moves here."""

    lost: LostFace
    score: float


@dataclass(frozen=True, slots=True)
class Swap:
    """This track and `other` show each other's faces: their face states swap."""

    other: Track
    score: float


@dataclass(frozen=True, slots=True)
class Pending:
    """The face matches live track `other`: held until `other`'s next face settles it."""

    other: Track
    score: float


@dataclass(frozen=True, slots=True)
class Contradicted:
    score: float


Verdict = Consistent | TakeOver | Swap | Pending | Contradicted


class ConsistencyCheck:
    def __init__(self, config: ConsistencyConfig) -> None:
        self.config = config

    def judge(
        self,
        track: Track,
        probe: Vector,
        t: float,
        live: Iterable[Track],
        lost: Iterable[LostFace],
    ) -> Verdict:
        """What this face means for `track` (module docs)."""
        c = self.config
        face = track.face
        if not c.enabled:
            return Consistent(None)
        if face.template is None:
            if c.reconcile and face.observations == 0 and face.customer_id is None:
                taken = self._best_lost(track, probe, t, lost)
                if taken is not None:
                    return taken
            return Consistent(None)
        score = float(face.template @ probe)
        if score >= c.min_similarity:
            return Consistent(score)
        if not c.reconcile:
            return Contradicted(score)
        best: tuple[float, Track | LostFace] | None = None
        second = -2.0
        for other in self._others(track, t, live, lost):
            template = other.face.template
            assert template is not None
            candidate = float(template @ probe)
            if best is None or candidate > best[0]:
                second = best[0] if best is not None else second
                best = (candidate, other)
            else:
                second = max(second, candidate)
        if best is None or best[0] < c.reconcile_min_score or best[0] - second < RECONCILE_MARGIN:
            return Contradicted(score)
        matched, other = best
        if isinstance(other, LostFace):
            return TakeOver(other, matched)
        pending = other.face.pending_switch
        if pending == track.key and t - other.face.pending_since <= c.reconcile_window_s:
            return Swap(other, matched)
        return Pending(other, matched)

    def _others(
        self, track: Track, t: float, live: Iterable[Track], lost: Iterable[LostFace]
    ) -> Iterable[Track | LostFace]:
        window = self.config.reconcile_window_s
        for other in live:
            if (
                other.camera_id == track.camera_id
                and other.key != track.key
                and other.face.active
                and other.face.template is not None
                and t - other.last <= window
            ):
                yield other
        for gone in lost:
            if (
                gone.camera_id == track.camera_id
                and gone.face.active
                and gone.face.template is not None
                and t - gone.last <= window
            ):
                yield gone

    def _best_lost(
        self, track: Track, probe: Vector, t: float, lost: Iterable[LostFace]
    ) -> TakeOver | None:
        scored = []
        for gone in lost:
            template = gone.face.template
            if (
                gone.camera_id == track.camera_id
                and gone.face.active
                and template is not None
                and 0.0 <= t - gone.last <= self.config.reconcile_window_s
            ):
                scored.append((float(template @ probe), gone))
        if not scored:
            return None
        scored.sort(key=lambda item: item[0], reverse=True)
        score, best = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else -2.0
        if score < self.config.reconcile_min_score or score - runner_up < RECONCILE_MARGIN:
            return None
        return TakeOver(best, score)

    def learn(self, face: FaceState, probe: Vector) -> None:
        """Fold a (quality, consistent) face into the track template."""
        if face.template is None:
            face.template = unit_vector(probe, probe.size)
        else:
            face.template = ema(face.template, probe, self.config.template_alpha)
