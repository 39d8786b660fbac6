"""The gating engine: per-track identity decisions, precision first.

`IdentityGate.observe(observation)` takes one observation of a track (camera, track id,
time, face embedding(s) if a face was seen, person box) and returns a `Decision`. It
needs a `GallerySearch` (the Qdrant gallery, or a stand-in in tests) and nothing else: no
NATS, no clock (time is the observations' own), so it is deterministic given its inputs.
Not thread-safe: one caller at a time (the service serializes).

Per observation with a face:
1. probe = the normalized mean of the embeddings (minus the camera's mean embedding,
   when per-camera normalization is on);
2. candidates = the gallery's top-K customers, each also scored against their adaptive
   template if they are active (score = the higher of the two);
3. the top candidate gets this observation's vote only if its score reaches the camera's
   threshold (0.72 + camera offset; 0.85 for companion tracks), the runner-up is not
   within `runner_up_margin` of it, it is not blocked for this track (after a false merge
   or contradiction), and the spatiotemporal gate accepts it: every other sighting of the
   customer must be compatible with being here now (`topology.compatible`); a rejection
   is counted. Otherwise the observation votes for no one. Only the top candidate can
   win: if the face looks most like someone who cannot be here, the next best is not
   trusted either.
4. the track's window (default 5) is tallied: a strict majority for one customer with a
   mean vote score >= 0.74 resolves the track, unless it would be a false merge (the
   customer is already on a track this person cannot also be), in which case both
   assignments are withdrawn, the customer is blocked for both tracks and an alert is
   raised. A full window without a decision makes the track an unknown visitor (once).
   A resolved track whose window later elects someone else is withdrawn (flicker).

Every observation of a resolved track also extends its sighting and re-runs the
false-merge check, so a conflict that appears later (e.g. a track that keeps going on a
camera the customer has since been resolved elsewhere) is caught too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from identity.audit import AuditContext
from identity.companions import Box, CompanionDetector
from identity.config import IdentityConfig
from identity.drift import DriftMonitor
from identity.false_merge import Conflict, FalseMergeDetector
from identity.gallery import GalleryMatch, GallerySearch
from identity.metrics import IdentityMetrics
from identity.outcomes import (
    Drift,
    FalseMerge,
    GateRejection,
    Outcome,
    Resolved,
    TrackInfo,
    Unknown,
    UnknownReason,
    VoteReason,
    Withdrawn,
)
from identity.registry import ActiveIdentityRegistry, Sighting, TrackKey
from identity.topology import CameraTopology, Interval
from identity.vectors import Vector, fuse
from identity.voting import Tally, Vote, VoteWindow

_EXPIRY_EVERY_S: Final = 1.0

TrackStatus = Literal["pending", "resolved", "unknown"]


@dataclass(frozen=True)
class Observation:
    """One sighting of a track. `embeddings`: 0 (no usable face this time), 1 or several
    samples of the *same* face (fused into one probe). `box`: the person box (any units,
    consistent per camera), for companion detection."""

    camera_id: str
    track_id: int
    at: datetime
    embeddings: Sequence[Vector] = ()
    box: Box | None = None
    track_uid: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("observation time must be timezone-aware")
        if self.track_id < 0:
            raise ValueError("track_id must be >= 0")


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one observation: this observation's vote and its track's
    state after it. `outcomes` is everything the call caused, for any track (this one,
    a false-merge partner, a companion re-check, tracks and identities expired by the
    observation's time): what the caller must publish."""

    camera_id: str
    track_id: int
    at: datetime
    visit_id: uuid.UUID
    vote: str | None  # the customer this observation voted for
    vote_reason: VoteReason
    score: float | None  # the top candidate's score, if there was a candidate
    companion: bool
    status: TrackStatus
    customer_id: str | None  # the track's identity after this observation
    outcomes: tuple[Outcome, ...] = ()
    gate_rejections: tuple[GateRejection, ...] = ()


@dataclass
class _Track:
    camera_id: str
    track_id: int
    visit_id: uuid.UUID
    track_uid: uuid.UUID | None
    first: float
    last: float
    window: VoteWindow
    observations: int = 0
    customer_id: str | None = None
    unknown_emitted: bool = False
    best_score: float | None = None
    blocked: set[str] = field(default_factory=set)
    vips: dict[str, bool] = field(default_factory=dict)  # VIP flag of customers voted for

    @property
    def key(self) -> TrackKey:
        return (self.camera_id, self.track_id)

    @property
    def interval(self) -> Interval:
        return Interval(self.camera_id, self.first, self.last)

    def sighting(self) -> Sighting:
        return Sighting(
            self.camera_id, self.track_id, self.first, self.last, self.visit_id, self.track_uid
        )

    def info(self) -> TrackInfo:
        return TrackInfo(
            self.camera_id,
            self.track_id,
            self.visit_id,
            self.track_uid,
            _dt(self.first),
            _dt(self.last),
        )


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _unknown_reason(tally: Tally) -> UnknownReason:
    if tally.reason == "low_confidence":
        return "low_confidence"
    return "no_majority" if tally.leader is not None else "no_match"


def _sighting_info(s: Sighting) -> TrackInfo:
    return TrackInfo(s.camera_id, s.track_id, s.visit_id, s.track_uid, _dt(s.first), _dt(s.last))


class IdentityGate:
    def __init__(
        self,
        config: IdentityConfig,
        gallery: GallerySearch,
        *,
        actor: str = "identity-gate",
        metrics: IdentityMetrics | None = None,
        registry: ActiveIdentityRegistry | None = None,
        visit_ids: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else IdentityMetrics()
        self.registry = (
            registry if registry is not None else ActiveIdentityRegistry(config.registry)
        )
        self.topology = CameraTopology(config.topology)
        self.companions = CompanionDetector(config.companions)
        self.false_merges = FalseMergeDetector(self.topology)
        self.drift = DriftMonitor(config.drift, self.metrics)
        self._gallery = gallery
        self._ctx = AuditContext(actor, "identity gating of a track observation")
        self._template_ctx = AuditContext(actor, "adaptive template of an active identity")
        self._visit_ids = visit_ids
        self._tracks: dict[TrackKey, _Track] = {}
        self._now = 0.0
        self._last_expiry = 0.0

    # --- queries ----------------------------------------------------------------------

    def assignment(self, camera_id: str, track_id: int) -> str | None:
        track = self._tracks.get((camera_id, track_id))
        return track.customer_id if track is not None else None

    def visit_id(self, camera_id: str, track_id: int) -> uuid.UUID | None:
        track = self._tracks.get((camera_id, track_id))
        return track.visit_id if track is not None else None

    def tracks(self) -> list[TrackKey]:
        return list(self._tracks)

    @property
    def now(self) -> float:
        """The latest observation time seen (seconds since the epoch)."""
        return self._now

    def links(self, customer_id: str) -> int:
        """Places in the engine's state that still name the customer (0 after erase)."""
        count = 1 if customer_id in self.registry else 0
        for track in self._tracks.values():
            count += track.customer_id == customer_id
            count += customer_id in track.blocked
            count += track.window.mentions(customer_id)
            count += customer_id in track.vips
        return count

    # --- the decision -----------------------------------------------------------------

    def observe(self, obs: Observation) -> Decision:
        """Gate one observation (module docs); time is `obs.at`, never the wall clock."""
        started = time.perf_counter()
        t = obs.at.timestamp()
        outcomes: list[Outcome] = []
        if t > self._now:
            self._now = t
        if self._now - self._last_expiry >= _EXPIRY_EVERY_S:
            outcomes.extend(self.expire(self._now))

        track = self._track_for(obs, t)
        if obs.box is not None:
            newly = self.companions.observe(obs.camera_id, obs.track_id, t, obs.box)
            if newly:
                self.metrics.companions.labels(obs.camera_id).inc(len(newly))
            for track_id in newly:
                flagged = self._tracks.get((obs.camera_id, track_id))
                if flagged is not None:
                    outcomes.extend(self._recheck_companion(flagged, t))
        companion = self.companions.is_companion(obs.camera_id, obs.track_id)

        if track.customer_id is not None:
            self.registry.record(track.customer_id, track.sighting())
            outcomes.extend(self._check_false_merge(track, track.customer_id, t))

        vote: str | None = None
        reason: VoteReason = "no_face"
        top_score: float | None = None
        rejections: list[GateRejection] = []
        if obs.embeddings:
            probe = self.registry.normalize(obs.camera_id, fuse(obs.embeddings))
            ranked, matches = self._candidates(probe)
            vote, reason, top_score, rejections = self._vote(track, ranked, t, companion)
            if vote is not None and vote in matches:
                track.vips[vote] = matches[vote].vip
            track.observations += 1
            if top_score is not None:
                track.best_score = max(track.best_score or -1.0, top_score)
            track.window.add(Vote(vote, top_score or 0.0))
            outcomes.extend(self._decide(track, t))
            assigned = track.customer_id
            if assigned is not None:
                own = next((s for c, s in ranked if c == assigned), None)
                if own is not None:
                    outcomes.extend(self._record_drift(obs.camera_id, own, t))
                if vote == assigned and top_score is not None:
                    match = matches.get(assigned)
                    slot = match.slot if match is not None else None
                    self._update_template(assigned, slot, probe, top_score)
        self.metrics.observations.labels(obs.camera_id, reason).inc()
        self.metrics.active_tracks.set(len(self._tracks))
        self.metrics.active_identities.set(len(self.registry))
        self.metrics.decision_latency.observe(time.perf_counter() - started)
        status: TrackStatus = (
            "resolved"
            if track.customer_id is not None
            else "unknown"
            if track.unknown_emitted
            else "pending"
        )
        return Decision(
            camera_id=obs.camera_id,
            track_id=obs.track_id,
            at=obs.at,
            visit_id=track.visit_id,
            vote=vote,
            vote_reason=reason,
            score=top_score,
            companion=companion,
            status=status,
            customer_id=track.customer_id,
            outcomes=tuple(outcomes),
            gate_rejections=tuple(rejections),
        )

    def _track_for(self, obs: Observation, t: float) -> _Track:
        key = (obs.camera_id, obs.track_id)
        track = self._tracks.get(key)
        if track is None:
            m = self.config.match
            track = _Track(
                camera_id=obs.camera_id,
                track_id=obs.track_id,
                visit_id=self._visit_ids(),
                track_uid=obs.track_uid,
                first=t,
                last=t,
                window=VoteWindow(m.window, m.required_votes, m.accept_mean),
            )
            self._tracks[key] = track
        else:
            track.first = min(track.first, t)
            track.last = max(track.last, t)
            if track.track_uid is None and obs.track_uid is not None:
                track.track_uid = obs.track_uid
        return track

    def _candidates(self, probe: Vector) -> tuple[list[tuple[str, float]], dict[str, GalleryMatch]]:
        """(customer, score) best first, gallery and active templates merged; and the
        gallery match (slot, VIP flag) of each customer the gallery returned."""
        matches: list[GalleryMatch] = self._gallery.search(
            probe, limit=self.config.match.top_k, ctx=self._ctx
        )
        scores = {m.customer_id: m.score for m in matches}
        for customer, score in self.registry.template_scores(probe).items():
            if score > scores.get(customer, -2.0):
                scores[customer] = score
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        return ranked, {m.customer_id: m for m in matches}

    def _vote(
        self, track: _Track, ranked: list[tuple[str, float]], t: float, companion: bool
    ) -> tuple[str | None, VoteReason, float | None, list[GateRejection]]:
        if not ranked:
            return None, "below_threshold", None, []
        threshold = self.config.match.threshold_for(track.camera_id, companion=companion)
        customer, score = ranked[0]
        if score < threshold:
            return None, "below_threshold", score, []
        if len(ranked) > 1:
            runner_up = ranked[1][1]
            if runner_up >= threshold and score - runner_up < self.config.match.runner_up_margin:
                return None, "ambiguous", score, []
        if customer in track.blocked:
            return None, "blocked", score, []
        here = Interval.point(track.camera_id, t)
        rejections: list[GateRejection] = []
        for sighting in self.registry.sightings(customer):
            if sighting.key == track.key and sighting.visit_id == track.visit_id:
                continue
            verdict = self.topology.compatible(sighting.interval, here)
            if not verdict.ok:
                rejections.append(
                    GateRejection(
                        customer,
                        score,
                        sighting.camera_id,
                        sighting.last,
                        verdict.gap_s,
                        verdict.min_transit_s,
                    )
                )
        if rejections:
            self.metrics.gate_rejections.labels("impossible_transition").inc()
            return None, "gate_rejected", score, rejections
        return customer, "match", score, []

    def _decide(self, track: _Track, t: float) -> list[Outcome]:
        tally = track.window.tally()
        at = _dt(t)
        if track.customer_id is None:
            if tally.accepted and tally.leader is not None:
                customer = tally.leader
                conflicts = self._conflicts(track, customer)
                if conflicts:
                    return self._false_merge(track, customer, conflicts, t)
                vip = track.vips.get(customer)
                identity = self.registry.record(customer, track.sighting(), vip=vip)
                track.customer_id = customer
                self.metrics.resolved.labels(track.camera_id).inc()
                self.metrics.confidence.observe(tally.mean_score)
                return [
                    Resolved(
                        track.info(),
                        at,
                        customer,
                        tally.mean_score,
                        tally.votes,
                        track.window.size,
                        identity.vip,
                    )
                ]
            if tally.full and not track.unknown_emitted:
                track.unknown_emitted = True
                self.metrics.unknowns.labels(track.camera_id).inc()
                reason = _unknown_reason(tally)
                return [Unknown(track.info(), at, reason, track.observations, track.best_score)]
            return []
        if tally.accepted and tally.leader not in (None, track.customer_id):
            # The track's recent votes elect someone else: the tracker may have switched
            # people, or the first decision was wrong. Either way it is not safe to keep.
            self.metrics.flicker.inc()
            return [self._withdraw(track, "contradicted", t)]
        return []

    def _recheck_companion(self, track: _Track, t: float) -> list[Outcome]:
        """A track just found to move with someone: its earlier votes must meet the
        companion threshold too, and an identity they no longer support is withdrawn."""
        threshold = self.config.match.threshold_for(track.camera_id, companion=True)
        track.window.restrict(threshold)
        customer = track.customer_id
        if customer is None:
            return []
        tally = track.window.tally()
        if tally.accepted and tally.leader == customer:
            return []
        self.registry.detach(customer, track.key)
        track.customer_id = None
        self.metrics.withdrawn.labels("companion").inc()
        return [Withdrawn(track.info(), _dt(t), customer, "companion")]

    # --- false merges -----------------------------------------------------------------

    def _conflicts(self, track: _Track, customer: str) -> list[Conflict[Sighting]]:
        others = [
            (s, s.interval)
            for s in self.registry.sightings(customer)
            if not (s.key == track.key and s.visit_id == track.visit_id)
        ]
        return self.false_merges.conflicts(track.interval, others)

    def _check_false_merge(self, track: _Track, customer: str, t: float) -> list[Outcome]:
        conflicts = self._conflicts(track, customer)
        return self._false_merge(track, customer, conflicts, t) if conflicts else []

    def _false_merge(
        self, track: _Track, customer: str, conflicts: list[Conflict[Sighting]], t: float
    ) -> list[Outcome]:
        at = _dt(t)
        outcomes: list[Outcome] = []
        info = track.info()
        for conflict in conflicts:
            self.metrics.false_merges.inc()
            other = conflict.other
            outcomes.append(
                FalseMerge(
                    at,
                    track.camera_id,
                    customer,
                    (_sighting_info(other), info),
                    conflict.min_transit_s,
                    conflict.gap_s,
                )
            )
            live = self._tracks.get(other.key)
            if live is not None and live.visit_id == other.visit_id:
                if live.customer_id == customer:
                    outcomes.append(self._withdraw(live, "false_merge", t))
                self.registry.detach(customer, other.key)
                live.blocked.add(customer)
                live.window.clear()
            else:
                # The other track has ended: only its sighting remains.
                self.registry.detach(customer, other.key)
                self.metrics.withdrawn.labels("false_merge").inc()
                outcomes.append(Withdrawn(_sighting_info(other), at, customer, "false_merge"))
        track.blocked.add(customer)
        if track.customer_id == customer:
            outcomes.append(self._withdraw(track, "false_merge", t))
        track.window.clear()
        return outcomes

    def _withdraw(
        self, track: _Track, reason: Literal["false_merge", "contradicted"], t: float
    ) -> Withdrawn:
        customer = track.customer_id
        assert customer is not None
        self.registry.detach(customer, track.key)
        track.customer_id = None
        track.blocked.add(customer)
        track.window.clear()
        self.metrics.withdrawn.labels(reason).inc()
        return Withdrawn(track.info(), _dt(t), customer, reason)

    # --- templates and drift ----------------------------------------------------------

    def _update_template(
        self, customer: str, slot: int | None, probe: Vector, score: float
    ) -> None:
        reg = self.config.registry
        if not reg.ema_enabled or score < reg.ema_min_score:
            return
        if not self.registry.has_template(customer):
            if slot is None:
                return
            stored = self._gallery.read_vector(customer, slot, ctx=self._template_ctx)
            if stored is None:
                return
            self.registry.set_template(customer, stored)
        self.registry.update_template(customer, probe, score)

    def _record_drift(self, camera_id: str, score: float, t: float) -> list[Outcome]:
        change = self.drift.record(camera_id, score)
        if change is None:
            return []
        return [
            Drift(
                _dt(t),
                camera_id,
                change.state,
                change.baseline_mean,
                change.rolling_mean,
                change.margin,
                change.samples,
            )
        ]

    # --- lifecycle --------------------------------------------------------------------

    def end_track(self, camera_id: str, track_id: int, at: datetime | None = None) -> list[Outcome]:
        """The tracker gave the track up. An unresolved track that never got an unknown
        decision becomes unknown now; a resolved one keeps its sighting (for the gates)
        until the customer's TTL."""
        track = self._tracks.pop((camera_id, track_id), None)
        self.companions.forget(camera_id, track_id)
        if track is None:
            return []
        self.metrics.active_tracks.set(len(self._tracks))
        if track.customer_id is None and not track.unknown_emitted:
            self.metrics.unknowns.labels(camera_id).inc()
            reason: UnknownReason = "insufficient_observations"
            if track.observations >= track.window.size:
                reason = _unknown_reason(track.window.tally())
            return [
                Unknown(
                    track.info(),
                    at or _dt(track.last),
                    reason,
                    track.observations,
                    track.best_score,
                )
            ]
        return []

    def expire(self, now: float) -> list[Outcome]:
        """Forget tracks unseen for `track_ttl_s` and identities unseen for `ttl_s`."""
        self._last_expiry = now
        cutoff = now - self.config.registry.track_ttl_s
        outcomes: list[Outcome] = []
        for key in [k for k, tr in self._tracks.items() if tr.last < cutoff]:
            outcomes.extend(self.end_track(*key))
        self.registry.expire(now)
        self.metrics.active_identities.set(len(self.registry))
        return outcomes

    def erase(self, customer_id: str, at: datetime | None = None) -> list[Outcome]:
        """Remove every link to a customer: registry entry (sightings, template), votes,
        blocks and assignments. Tracks that were resolved to them are withdrawn."""
        when = at or datetime.now(UTC)
        self.registry.forget(customer_id)
        outcomes: list[Outcome] = []
        for track in self._tracks.values():
            track.window.drop_customer(customer_id)
            track.blocked.discard(customer_id)
            track.vips.pop(customer_id, None)
            if track.customer_id == customer_id:
                track.customer_id = None
                self.metrics.withdrawn.labels("erased").inc()
                outcomes.append(Withdrawn(track.info(), when, None, "erased"))
        self.metrics.active_identities.set(len(self.registry))
        return outcomes
