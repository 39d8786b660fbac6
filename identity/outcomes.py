"""What the gating engine decides, as plain values; `events.py` turns them into events.

An `Outcome` is something the rest of the system must hear about (a track resolved,
declared unknown or withdrawn, a false merge, drift). Outcomes never hold embeddings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

UnknownReason = Literal[
    "no_match",
    "no_majority",
    "low_confidence",
    "insufficient_observations",
    "contradicted",
    "id_switch",
]
WithdrawReason = Literal["false_merge", "contradicted", "companion", "erased", "id_switch"]
VoteReason = Literal[
    "match",
    "no_face",
    "below_threshold",
    "gate_rejected",
    "ambiguous",
    "blocked",
    "low_quality",  # the face failed the quality gate
    "wrong_model",  # embedded by another face_embedder version than the gallery's
    "contradicted",  # the track's faces point to two people: it no longer votes
    "switch_pending",  # the face may belong to another track (ID switch), vote held
    "erased",  # the track's visit was erased
]
ContradictionReason = Literal["two_candidates", "face_changed"]
VisitScope = Literal["track", "linked"]


@dataclass(frozen=True, slots=True)
class TrackInfo:
    camera_id: str
    track_id: int
    visit_id: uuid.UUID
    track_uid: uuid.UUID | None
    first_seen: datetime
    last_seen: datetime
    visit_scope: VisitScope = "track"  # "linked": the visit id comes from face linking


@dataclass(frozen=True, slots=True)
class Resolved:
    track: TrackInfo
    at: datetime
    customer_id: str
    confidence: float
    votes: int
    window: int
    vip: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    track: TrackInfo
    at: datetime
    reason: UnknownReason
    observations: int
    best_score: float | None
    contradiction: ContradictionReason | None = None  # with reason "contradicted"


@dataclass(frozen=True, slots=True)
class Withdrawn:
    track: TrackInfo
    at: datetime
    customer_id: str | None  # None when the customer was erased
    reason: WithdrawReason


@dataclass(frozen=True, slots=True)
class FalseMerge:
    at: datetime
    camera_id: str  # the camera of the track whose observation revealed the conflict
    customer_id: str
    tracks: tuple[TrackInfo, TrackInfo]
    min_transit_s: float
    gap_s: float


@dataclass(frozen=True, slots=True)
class Drift:
    at: datetime
    camera_id: str
    state: Literal["drifting", "recovered"]
    baseline_mean: float
    rolling_mean: float
    margin: float
    samples: int


Outcome = Resolved | Unknown | Withdrawn | FalseMerge | Drift


@dataclass(frozen=True, slots=True)
class GateRejection:
    """A candidate refused by the spatiotemporal gate (counted, not published)."""

    customer_id: str
    score: float
    seen_camera_id: str
    seen_at: float
    gap_s: float
    min_transit_s: float
