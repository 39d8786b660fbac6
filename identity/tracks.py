"""The gate's per-track state, split by what it follows.

A `Track` belongs to the tracker: camera, tracker id, when it was seen. Its `FaceState`
belongs to the person whose face it shows: the vote, the customer it resolved to, the
visit, the track's running face template. They are apart so that when the tracker swaps
two people's ids, or gives a person a new id, the identity follows the face, not the id
(`identity.consistency`): the gate moves the `FaceState` to the other track.

`instance` is the random id a track was created with. It never moves, and it is what
registry sightings and visit sightings are keyed by beside (camera, track id), because a
tracker id is reused after a node restart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from identity.outcomes import ContradictionReason, TrackInfo, VisitScope
from identity.registry import Sighting, TrackKey
from identity.topology import Interval
from identity.vectors import Vector
from identity.visits import SightingKey
from identity.voting import VoteWindow

TrackStatus = Literal["pending", "resolved", "unknown", "contradicted"]


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass
class FaceState:
    """Everything that follows one person's face (module docs)."""

    visit_id: uuid.UUID
    window: VoteWindow
    visit_window: VoteWindow
    since: float  # when this face state arrived on its current track
    visit_scope: VisitScope = "track"
    observations: int = 0  # quality faces that voted
    customer_id: str | None = None
    confidence: float = 0.0  # of the accepted vote
    votes: int = 0
    unknown_emitted: bool = False
    best_score: float | None = None
    blocked: set[str] = field(default_factory=set)
    vips: dict[str, bool] = field(default_factory=dict)  # VIP flag of customers voted for
    candidates: set[str] = field(default_factory=set)  # customers that won a vote
    visit_blocked: set[uuid.UUID] = field(default_factory=set)
    visit_rechecks: int = 0  # windows left to look for an older visit of the same person
    template: Vector | None = field(default=None, repr=False)  # the track's own face
    contradicted: ContradictionReason | None = None
    erased: bool = False  # its visit was erased: no face of it is used any more
    pending_switch: TrackKey | None = None  # another track that may have taken the face
    pending_since: float = 0.0

    @property
    def active(self) -> bool:
        """Still voting (not contradicted, not erased)."""
        return self.contradicted is None and not self.erased

    def forget_template(self) -> None:
        self.template = None


@dataclass
class Track:
    camera_id: str
    track_id: int
    instance: uuid.UUID
    track_uid: uuid.UUID | None
    first: float
    last: float
    face: FaceState

    @property
    def key(self) -> TrackKey:
        return (self.camera_id, self.track_id)

    @property
    def sighting_key(self) -> SightingKey:
        return (self.camera_id, self.track_id, self.instance)

    @property
    def interval(self) -> Interval:
        """When this track showed its current face."""
        return Interval(self.camera_id, max(self.first, self.face.since), self.last)

    @property
    def status(self) -> TrackStatus:
        face = self.face
        if face.contradicted is not None:
            return "contradicted"
        if face.customer_id is not None:
            return "resolved"
        return "unknown" if face.unknown_emitted else "pending"

    def sighting(self) -> Sighting:
        span = self.interval
        return Sighting(
            self.camera_id,
            self.track_id,
            span.first,
            span.last,
            self.instance,
            self.track_uid,
            self.face.visit_id,
            self.face.visit_scope,
        )

    def info(self) -> TrackInfo:
        return TrackInfo(
            self.camera_id,
            self.track_id,
            self.face.visit_id,
            self.track_uid,
            _dt(self.first),
            _dt(self.last),
            self.face.visit_scope,
        )


@dataclass
class LostFace:
    """The face state of a track the tracker ended, kept `reconcile_window_s` so that a
    new track showing the same face takes it over (seeds 7.1)."""

    camera_id: str
    track_id: int
    last: float
    face: FaceState
