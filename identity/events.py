"""Outcomes of the gating engine as schema events (`trinetra.events.schema`)."""

from __future__ import annotations

from identity.outcomes import (
    Drift,
    FalseMerge,
    Outcome,
    Resolved,
    TrackInfo,
    Unknown,
    Withdrawn,
)
from trinetra.events.schema import (
    Event,
    FalseMergeAlertEvent,
    IdentityDriftAlertEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    IdentityWithdrawnEvent,
    TrackRef,
)


def _score(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _ref(track: TrackInfo) -> TrackRef:
    return TrackRef(
        camera_id=track.camera_id,
        track_id=track.track_id,
        track_uid=track.track_uid,
        first_seen_at=track.first_seen,
        last_seen_at=track.last_seen,
    )


def to_event(outcome: Outcome, store_id: str) -> Event:
    """The event announcing `outcome` (deterministic id: see the schema's id rule)."""
    if isinstance(outcome, Resolved | Unknown | Withdrawn):
        track = outcome.track
        common = {
            "store_id": store_id,
            "camera_id": track.camera_id,
            "occurred_at": outcome.at,
            "track_id": track.track_id,
            "track_uid": track.track_uid,
            "visit_id": track.visit_id,
            "visit_scope": track.visit_scope,
        }
        if isinstance(outcome, Resolved):
            return IdentityResolvedEvent.model_validate(
                common
                | {
                    "customer_id": outcome.customer_id,
                    "confidence": _score(outcome.confidence),
                    "votes": outcome.votes,
                    "window": outcome.window,
                    "vip": outcome.vip,
                }
            )
        if isinstance(outcome, Unknown):
            return IdentityUnknownEvent.model_validate(
                common
                | {
                    "reason": outcome.reason,
                    "observations": outcome.observations,
                    "best_score": None
                    if outcome.best_score is None
                    else _score(outcome.best_score),
                    "contradiction": outcome.contradiction,
                }
            )
        return IdentityWithdrawnEvent.model_validate(
            common | {"customer_id": outcome.customer_id, "reason": outcome.reason}
        )
    if isinstance(outcome, FalseMerge):
        return FalseMergeAlertEvent(
            store_id=store_id,
            camera_id=outcome.camera_id,
            occurred_at=outcome.at,
            customer_id=outcome.customer_id,
            tracks=(_ref(outcome.tracks[0]), _ref(outcome.tracks[1])),
            min_transit_s=outcome.min_transit_s,
            gap_s=outcome.gap_s,
        )
    if isinstance(outcome, Drift):
        return IdentityDriftAlertEvent(
            store_id=store_id,
            camera_id=outcome.camera_id,
            occurred_at=outcome.at,
            state=outcome.state,
            baseline_mean=outcome.baseline_mean,
            rolling_mean=min(max(outcome.rolling_mean, -1.0), 1.0),
            margin=outcome.margin,
            samples=outcome.samples,
        )
    raise TypeError(f"not an outcome: {type(outcome).__name__}")
