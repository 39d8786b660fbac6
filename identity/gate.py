"""The gating engine: per-track identity decisions, precision first.

`IdentityGate.observe(observation)` takes one observation of a track (camera, track id,
time, face embedding(s) and measurements if a face was seen, person box) and returns a
`Decision`. It needs a `GallerySearch` (the Qdrant gallery, or a stand-in in tests) and
nothing else: no NATS, no clock (time is the observations' own), so it is deterministic
given its inputs. Not thread-safe: one caller at a time (the service serializes).

Per observation with a face:
1. the face must be usable evidence: embedded by the gallery's face_embedder version
   (`wrong_model` otherwise) and through the quality gate (`identity.quality`: size,
   detector score, frontal pose, blur; `low_quality` otherwise). A refused face changes
   nothing: no vote, no template, no visit;
2. probe = the normalized mean of the embeddings (minus the camera's mean embedding,
   when per-camera normalization is on);
3. track consistency (`identity.consistency`): a face far from the track's running
   template is either another track's person after an ID switch (the face states move,
   the identity follows the face) or proof that the track shows two people: the track is
   contradicted, stops voting, and a resolved identity on it is withdrawn;
4. candidates = the gallery's top-K customers, each also scored against their adaptive
   template if they are active (score = the higher of the two);
5. the top candidate gets this observation's vote only if its score reaches the camera's
   threshold (from the embedder's calibration, + camera offset; the companion threshold
   for companion tracks), the runner-up is not within `runner_up_margin` of it, it is not
   blocked for this track (after a false merge), and the spatiotemporal gate accepts it:
   every other sighting of the customer must be compatible with being here now
   (`topology.compatible`); a rejection is counted. Otherwise the observation votes for no
   one. Only the top candidate can win: if the face looks most like someone who cannot be
   here, the next best is not trusted either. A vote for a second, different customer
   contradicts the track;
6. the same face votes the track into an anonymous visit (`identity.visit_linking`);
7. the track's window (default 5) is tallied: a strict majority for one customer with the
   accepted mean vote score resolves the track, unless it would be a false merge (the
   customer is already on a track this person cannot also be), in which case both
   assignments are withdrawn, the customer is blocked for both tracks and an alert is
   raised. A full window without a decision makes the track an unknown visitor (once).

Every observation of a resolved track also extends its sighting and re-runs the
false-merge check, so a conflict that appears later (e.g. a track that keeps going on a
camera the customer has since been resolved elsewhere) is caught too.

Outcomes name the track's visit id and scope, so the latest identity event of a track
says which visit it belongs to (see the IDENTITY section of `trinetra.events.schema`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from identity.audit import AuditContext
from identity.companions import Box, CompanionDetector
from identity.config import IdentityConfig
from identity.consistency import (
    ConsistencyCheck,
    Consistent,
    Contradicted,
    Pending,
    Swap,
    TakeOver,
)
from identity.drift import DriftMonitor
from identity.face_moves import FaceMoves, current_reason, unknown_reason
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
    VisitScope,
    VoteReason,
    Withdrawn,
)
from identity.quality import FaceMeasures, QualityGate
from identity.registry import ActiveIdentityRegistry, Sighting, TrackKey
from identity.topology import CameraTopology, Interval
from identity.tracks import FaceState, LostFace, Track, TrackStatus
from identity.vectors import Vector, fuse
from identity.visit_linking import VisitLinker
from identity.voting import Vote, VoteWindow

_EXPIRY_EVERY_S: Final = 1.0

__all__ = ["Decision", "IdentityGate", "Observation", "TrackStatus", "VisitErasure"]


@dataclass(frozen=True)
class Observation:
    """One sighting of a track. `embeddings`: 0 (no usable face this time), 1 or several
    samples of the *same* face (fused into one probe). `box`: the person box (any units,
    consistent per camera), for companion detection. `face`: what the detector measured
    of the face, for the quality gate. `embedder_version`: the face_embedder version that
    produced the embeddings, when the sender knows it."""

    camera_id: str
    track_id: int
    at: datetime
    embeddings: Sequence[Vector] = ()
    box: Box | None = None
    track_uid: uuid.UUID | None = None
    face: FaceMeasures | None = None
    embedder_version: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("observation time must be timezone-aware")
        if self.track_id < 0:
            raise ValueError("track_id must be >= 0")


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one observation: this observation's vote and its track's
    state after it. `outcomes` is everything the call caused, for any track (this one,
    a false-merge partner, a companion re-check, an ID-switch partner, tracks and
    identities expired by the observation's time): what the caller must publish."""

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
    visit_scope: VisitScope = "track"


@dataclass(frozen=True, slots=True)
class VisitErasure:
    """What `erase_visit` deleted."""

    found: bool  # the visit had a template
    templates_removed: int  # the visit's and its tracks' running templates
    tracks: int  # tracks (live or just ended) that were part of the visit


@dataclass
class _Step:
    """What one face did (the vote part of a Decision)."""

    reason: VoteReason
    vote: str | None = None
    score: float | None = None
    rejections: tuple[GateRejection, ...] = ()


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _sighting_info(s: Sighting) -> TrackInfo:
    visit = s.visit if s.visit is not None else s.visit_id
    return TrackInfo(
        s.camera_id, s.track_id, visit, s.track_uid, _dt(s.first), _dt(s.last), s.visit_scope
    )


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
        embedder_version: str | None = None,
    ) -> None:
        """`embedder_version`: the face_embedder version of the gallery; observations
        that name another one are refused (None: accept any)."""
        self.config = config
        self.metrics = metrics if metrics is not None else IdentityMetrics()
        self.registry = (
            registry if registry is not None else ActiveIdentityRegistry(config.registry)
        )
        self.topology = CameraTopology(config.topology)
        self.companions = CompanionDetector(config.companions)
        self.false_merges = FalseMergeDetector(self.topology)
        self.drift = DriftMonitor(config.drift, self.metrics)
        self.quality = QualityGate(config.quality.thresholds())
        self.consistency = ConsistencyCheck(config.consistency)
        self.visits = VisitLinker(config, self.topology, self.metrics, visit_ids)
        self.moves = FaceMoves(self.registry, self.visits, self.metrics)
        self.embedder_version = embedder_version
        self._gallery = gallery
        self._ctx = AuditContext(actor, "identity gating of a track observation")
        self._template_ctx = AuditContext(actor, "adaptive template of an active identity")
        self._visit_ids = visit_ids
        self._tracks: dict[TrackKey, Track] = {}
        self._lost: list[LostFace] = []
        self._now = 0.0
        self._last_expiry = 0.0

    # --- queries ----------------------------------------------------------------------

    def assignment(self, camera_id: str, track_id: int) -> str | None:
        track = self._tracks.get((camera_id, track_id))
        return track.face.customer_id if track is not None else None

    def visit_id(self, camera_id: str, track_id: int) -> uuid.UUID | None:
        track = self._tracks.get((camera_id, track_id))
        return track.face.visit_id if track is not None else None

    def status(self, camera_id: str, track_id: int) -> TrackStatus | None:
        track = self._tracks.get((camera_id, track_id))
        return track.status if track is not None else None

    def tracks(self) -> list[TrackKey]:
        return list(self._tracks)

    @property
    def now(self) -> float:
        """The latest observation time seen (seconds since the epoch)."""
        return self._now

    def _faces(self) -> list[FaceState]:
        return [t.face for t in self._tracks.values()] + [lost.face for lost in self._lost]

    def links(self, customer_id: str) -> int:
        """Places in the engine's state that still name the customer (0 after erase)."""
        count = 1 if customer_id in self.registry else 0
        for face in self._faces():
            count += face.customer_id == customer_id
            count += customer_id in face.blocked
            count += face.window.mentions(customer_id)
            count += customer_id in face.vips
            count += customer_id in face.candidates
        return count

    def visit_templates(self, visit_id: uuid.UUID) -> int:
        """Face templates in memory that belong to the visit: its own and its tracks'
        running templates (0 after `erase_visit` or once the visit ended)."""
        count = 1 if visit_id in self.visits.gallery else 0
        return count + sum(
            1 for f in self._faces() if f.visit_id == visit_id and f.template is not None
        )

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
        outcomes.extend(self._observe_companions(obs, t))
        companion = self.companions.is_companion(obs.camera_id, obs.track_id)
        if track.face.customer_id is not None:
            self.registry.record(track.face.customer_id, track.sighting())
            outcomes.extend(self._check_false_merge(track, track.face.customer_id, t))

        step = self._face(track, obs, t, companion, outcomes)
        self.metrics.observations.labels(obs.camera_id, step.reason).inc()
        self.metrics.active_tracks.set(len(self._tracks))
        self.metrics.active_identities.set(len(self.registry))
        self.metrics.decision_latency.observe(time.perf_counter() - started)
        return Decision(
            camera_id=obs.camera_id,
            track_id=obs.track_id,
            at=obs.at,
            visit_id=track.face.visit_id,
            vote=step.vote,
            vote_reason=step.reason,
            score=step.score,
            companion=companion,
            status=track.status,
            customer_id=track.face.customer_id,
            outcomes=tuple(outcomes),
            gate_rejections=step.rejections,
            visit_scope=track.face.visit_scope,
        )

    def _observe_companions(self, obs: Observation, t: float) -> list[Outcome]:
        if obs.box is None:
            return []
        newly = self.companions.observe(obs.camera_id, obs.track_id, t, obs.box)
        if newly:
            self.metrics.companions.labels(obs.camera_id).inc(len(newly))
        outcomes: list[Outcome] = []
        for track_id in newly:
            flagged = self._tracks.get((obs.camera_id, track_id))
            if flagged is not None:
                outcomes.extend(self._recheck_companion(flagged, t))
        return outcomes

    def _face(
        self, track: Track, obs: Observation, t: float, companion: bool, outcomes: list[Outcome]
    ) -> _Step:
        """Steps 1-7 of the module docs for the face of one observation."""
        if not obs.embeddings:
            return _Step("no_face")
        if not self._right_model(obs):
            return _Step("wrong_model")
        verdict = self.quality.check(obs.face)
        if not verdict.ok:
            self.metrics.low_quality.labels(obs.camera_id, verdict.reason).inc()
            return _Step("low_quality")
        face = track.face
        if face.pending_switch is not None and (
            t - face.pending_since > self.config.consistency.reconcile_window_s
        ):
            outcomes.extend(self.moves.contradict(track, "face_changed", t))
        if face.erased:
            return _Step("erased")
        if face.contradicted is not None:
            return _Step("contradicted")
        probe = self.registry.normalize(obs.camera_id, fuse(obs.embeddings))
        held = self._reconcile(track, probe, t, outcomes)
        if held is not None:
            return _Step(held)
        face = track.face  # an ID switch may have brought another face state
        ranked, matches = self._candidates(probe)
        vote, reason, top_score, rejections = self._vote(track, ranked, t, companion)
        if vote is not None:
            if face.candidates - {vote}:
                outcomes.extend(self.moves.contradict(track, "two_candidates", t))
                return _Step("contradicted", None, top_score)
            face.candidates.add(vote)
            if vote in matches:
                face.vips[vote] = matches[vote].vip
        face.observations += 1
        if top_score is not None:
            face.best_score = max(face.best_score or -1.0, top_score)
        face.window.add(Vote(vote, top_score or 0.0))
        change = self.visits.observe(track, probe, verdict.score, t, companion)
        decided = self._decide(track, t)
        outcomes.extend(decided)
        if change == "merged" and self.visits.merged_from is not None:
            outcomes.extend(
                self.moves.relabel(
                    self.visits.merged_from,
                    face.visit_id,
                    track,
                    self._tracks.values(),
                    self._lost,
                    t,
                )
            )
        if change is not None and not decided:
            announced = self.moves.announce(track, t, current_reason(face))
            if announced is not None:
                outcomes.append(announced)
        assigned = face.customer_id
        if assigned is not None:
            own = next((s for c, s in ranked if c == assigned), None)
            if own is not None:
                outcomes.extend(self._record_drift(obs.camera_id, own, t))
            strong = verdict.score >= self.config.quality.template_min_quality
            if vote == assigned and top_score is not None and strong:
                match = matches.get(assigned)
                slot = match.slot if match is not None else None
                self._update_template(assigned, slot, probe, top_score)
        return _Step(reason, vote, top_score, tuple(rejections))

    def _right_model(self, obs: Observation) -> bool:
        if self.embedder_version is None:
            return True
        if obs.embedder_version is None:
            self.metrics.unpinned.labels(obs.camera_id).inc()
            return True
        if obs.embedder_version != self.embedder_version:
            self.metrics.wrong_model.labels(obs.camera_id).inc()
            return False
        return True

    def _track_for(self, obs: Observation, t: float) -> Track:
        key = (obs.camera_id, obs.track_id)
        track = self._tracks.get(key)
        if track is None:
            instance = self._visit_ids()
            track = Track(
                camera_id=obs.camera_id,
                track_id=obs.track_id,
                instance=instance,
                track_uid=obs.track_uid,
                first=t,
                last=t,
                face=self._new_face(instance, t),
            )
            self._tracks[key] = track
        else:
            track.first = min(track.first, t)
            track.last = max(track.last, t)
            if track.track_uid is None and obs.track_uid is not None:
                track.track_uid = obs.track_uid
        return track

    def _new_face(self, visit_id: uuid.UUID, t: float) -> FaceState:
        m = self.config.match
        return FaceState(
            visit_id=visit_id,
            window=VoteWindow(m.window, m.required_votes, m.accept_mean),
            visit_window=VoteWindow(m.window, m.required_votes, m.accept_mean),
            since=t,
        )

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
        self, track: Track, ranked: list[tuple[str, float]], t: float, companion: bool
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
        if customer in track.face.blocked:
            return None, "blocked", score, []
        here = Interval.point(track.camera_id, t)
        rejections: list[GateRejection] = []
        for sighting in self.registry.sightings(customer):
            if sighting.key == track.key and sighting.visit_id == track.instance:
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

    def _decide(self, track: Track, t: float) -> list[Outcome]:
        face = track.face
        tally = face.window.tally()
        at = _dt(t)
        if face.customer_id is not None:
            return []
        if tally.accepted and tally.leader is not None:
            customer = tally.leader
            conflicts = self._conflicts(track, customer)
            if conflicts:
                return self._false_merge(track, customer, conflicts, t)
            vip = face.vips.get(customer)
            identity = self.registry.record(customer, track.sighting(), vip=vip)
            face.customer_id = customer
            face.confidence, face.votes = tally.mean_score, tally.votes
            self.metrics.resolved.labels(track.camera_id).inc()
            self.metrics.confidence.observe(tally.mean_score)
            return [
                Resolved(
                    track.info(),
                    at,
                    customer,
                    tally.mean_score,
                    tally.votes,
                    face.window.size,
                    identity.vip,
                )
            ]
        if tally.full and not face.unknown_emitted:
            face.unknown_emitted = True
            self.metrics.unknowns.labels(track.camera_id).inc()
            return [
                Unknown(track.info(), at, unknown_reason(tally), face.observations, face.best_score)
            ]
        return []

    def _recheck_companion(self, track: Track, t: float) -> list[Outcome]:
        """A track just found to move with someone: its earlier votes must meet the
        companion threshold too, and an identity they no longer support is withdrawn."""
        threshold = self.config.match.threshold_for(track.camera_id, companion=True)
        face = track.face
        face.window.restrict(threshold)
        customer = face.customer_id
        if customer is None:
            return []
        tally = face.window.tally()
        if tally.accepted and tally.leader == customer:
            return []
        self.registry.detach(customer, track.key)
        face.customer_id = None
        self.metrics.withdrawn.labels("companion").inc()
        return [Withdrawn(track.info(), _dt(t), customer, "companion")]

    # --- consistency and ID switches --------------------------------------------------

    def _reconcile(
        self, track: Track, probe: Vector, t: float, outcomes: list[Outcome]
    ) -> VoteReason | None:
        """Judge the face against the track (`identity.consistency`) and carry out what
        the verdict says; the vote reason when this face must not vote."""
        verdict = self.consistency.judge(track, probe, t, self._tracks.values(), self._lost)
        if isinstance(verdict, Consistent):
            if verdict.score is not None:
                outcomes.extend(self._settle_pending_on(track, t))
        elif isinstance(verdict, TakeOver):
            self._lost.remove(verdict.lost)
            self.moves.take_over(track, verdict.lost, t, outcomes)
        elif isinstance(verdict, Swap):
            self.moves.swap(track, verdict.other, t, outcomes)
        elif isinstance(verdict, Pending):
            face = track.face
            if face.pending_switch != verdict.other.key:
                face.pending_switch, face.pending_since = verdict.other.key, t
            return "switch_pending"
        elif isinstance(verdict, Contradicted):
            outcomes.extend(self.moves.contradict(track, "face_changed", t))
            return "contradicted"
        self.consistency.learn(track.face, probe)
        return None

    def _settle_pending_on(self, track: Track, t: float) -> list[Outcome]:
        """`track` still shows its own face: a track that thought it had taken this
        track's face shows someone else's face while that person is here: contradicted."""
        outcomes: list[Outcome] = []
        for other in list(self._tracks.values()):
            if other.face.pending_switch == track.key:
                outcomes.extend(self.moves.contradict(other, "face_changed", t))
        return outcomes

    # --- false merges -----------------------------------------------------------------

    def _conflicts(self, track: Track, customer: str) -> list[Conflict[Sighting]]:
        others = [
            (s, s.interval)
            for s in self.registry.sightings(customer)
            if not (s.key == track.key and s.visit_id == track.instance)
        ]
        return self.false_merges.conflicts(track.interval, others)

    def _check_false_merge(self, track: Track, customer: str, t: float) -> list[Outcome]:
        conflicts = self._conflicts(track, customer)
        return self._false_merge(track, customer, conflicts, t) if conflicts else []

    def _false_merge(
        self, track: Track, customer: str, conflicts: list[Conflict[Sighting]], t: float
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
            if live is not None and live.instance == other.visit_id:
                if live.face.customer_id == customer:
                    outcomes.append(self.moves.withdraw(live, "false_merge", t))
                self.registry.detach(customer, other.key)
                live.face.blocked.add(customer)
                live.face.window.clear()
            else:
                # The other track has ended: only its sighting remains.
                self.registry.detach(customer, other.key)
                self.metrics.withdrawn.labels("false_merge").inc()
                outcomes.append(Withdrawn(_sighting_info(other), at, customer, "false_merge"))
        track.face.blocked.add(customer)
        if track.face.customer_id == customer:
            outcomes.append(self.moves.withdraw(track, "false_merge", t))
        track.face.window.clear()
        return outcomes

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
        until the customer's TTL. Its face state waits `reconcile_window_s` for a new
        track showing the same face (ID switch)."""
        track = self._tracks.pop((camera_id, track_id), None)
        self.companions.forget(camera_id, track_id)
        if track is None:
            return []
        self.metrics.active_tracks.set(len(self._tracks))
        face = track.face
        if face.active and face.template is not None and self.config.consistency.reconcile:
            self._lost.append(LostFace(camera_id, track_id, track.last, face))
        if face.customer_id is None and not face.unknown_emitted:
            face.unknown_emitted = True
            self.metrics.unknowns.labels(camera_id).inc()
            reason: UnknownReason = "insufficient_observations"
            if face.observations >= face.window.size:
                reason = unknown_reason(face.window.tally())
            return [
                Unknown(
                    track.info(),
                    at or _dt(track.last),
                    reason,
                    face.observations,
                    face.best_score,
                )
            ]
        return []

    def expire(self, now: float) -> list[Outcome]:
        """Forget tracks unseen for `track_ttl_s`, identities unseen for `ttl_s`, ended
        tracks' face states after `reconcile_window_s`, and visits that ended."""
        self._last_expiry = now
        cutoff = now - self.config.registry.track_ttl_s
        outcomes: list[Outcome] = []
        for key in [k for k, tr in self._tracks.items() if tr.last < cutoff]:
            outcomes.extend(self.end_track(*key))
        window = self.config.consistency.reconcile_window_s
        self._lost = [lost for lost in self._lost if now - lost.last <= window]
        self.registry.expire(now)
        ended = set(self.visits.expire(now))
        if ended:
            for face in self._faces():
                face.visit_blocked -= ended
        self.metrics.active_identities.set(len(self.registry))
        return outcomes

    def erase(self, customer_id: str, at: datetime | None = None) -> list[Outcome]:
        """Remove every link to a customer: registry entry (sightings, template), votes,
        blocks and assignments. Tracks that were resolved to them are withdrawn."""
        when = at or datetime.now(UTC)
        self.registry.forget(customer_id)
        outcomes: list[Outcome] = []
        for face in self._faces():
            face.window.drop_customer(customer_id)
            face.blocked.discard(customer_id)
            face.vips.pop(customer_id, None)
            face.candidates.discard(customer_id)
        for track in self._tracks.values():
            if track.face.customer_id == customer_id:
                track.face.customer_id = None
                self.metrics.withdrawn.labels("erased").inc()
                outcomes.append(Withdrawn(track.info(), when, None, "erased"))
        for lost in self._lost:
            if lost.face.customer_id == customer_id:
                lost.face.customer_id = None
        self.metrics.active_identities.set(len(self.registry))
        return outcomes

    def erase_visit(self, visit_id: uuid.UUID) -> VisitErasure:
        """Delete an anonymous visit's face templates: the visit's own and the running
        templates of its tracks, which then take no further part in identity (they keep
        their visit id, which is not biometric)."""
        found = self.visits.erase(visit_id)
        removed = 1 if found else 0
        tracks = 0
        token = str(visit_id)
        for face in self._faces():
            face.visit_blocked.discard(visit_id)
            face.visit_window.drop_customer(token)
            if face.visit_id == visit_id:
                removed += face.template is not None
                face.forget_template()
                face.erased = True
                tracks += 1
        self._lost = [lost for lost in self._lost if not lost.face.erased]
        if found or tracks:
            self.metrics.visits_erased.inc()
        return VisitErasure(found=found, templates_removed=removed, tracks=tracks)
