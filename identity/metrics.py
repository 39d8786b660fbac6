"""Prometheus metrics of identity resolution, on the registry they are given (a private
one when None, as elsewhere in the orchestrator). Labels stay low-cardinality: cameras and
fixed reasons, never customer ids."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_SCORE_BUCKETS = (0.3, 0.5, 0.6, 0.65, 0.7, 0.72, 0.74, 0.76, 0.8, 0.85, 0.9, 0.95, 1.0)


class IdentityMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.observations = Counter(
            "trinetra_identity_observations",
            "Track observations gated, by camera and vote outcome (match, below_threshold, "
            "gate_rejected, ambiguous, blocked, no_face, low_quality, wrong_model, "
            "contradicted, switch_pending, erased).",
            ["camera", "vote"],
            registry=r,
        )
        self.gate_rejections = Counter(
            "trinetra_spatiotemporal_gate_rejections",
            "Candidate matches rejected because they imply an impossible transition.",
            ["reason"],
            registry=r,
        )
        self.resolved = Counter(
            "trinetra_reid_matches", "Tracks resolved to a customer.", ["camera"], registry=r
        )
        self.unknowns = Counter(
            "trinetra_reid_unknowns",
            "Tracks declared unknown (once per track).",
            ["camera"],
            registry=r,
        )
        self.withdrawn = Counter(
            "trinetra_identity_withdrawn",
            "Identity assignments withdrawn, by reason.",
            ["reason"],
            registry=r,
        )
        self.flicker = Counter(
            "trinetra_identity_flicker",
            "A resolved track's votes switched to another customer.",
            registry=r,
        )
        self.false_merges = Counter(
            "trinetra_false_merge_detected",
            "One identity found on two tracks no one person could be on.",
            registry=r,
        )
        self.companions = Counter(
            "trinetra_identity_companion_tracks",
            "Tracks flagged as moving together with another (stricter threshold).",
            ["camera"],
            registry=r,
        )
        self.low_quality = Counter(
            "trinetra_identity_low_quality_faces",
            "Observed faces refused by the quality gate, by camera and reason.",
            ["camera", "reason"],
            registry=r,
        )
        self.wrong_model = Counter(
            "trinetra_identity_wrong_model_observations",
            "Observations embedded by another face_embedder version than the gallery's.",
            ["camera"],
            registry=r,
        )
        self.unpinned = Counter(
            "trinetra_identity_unpinned_observations",
            "Observations that do not say which face_embedder version embedded them.",
            ["camera"],
            registry=r,
        )
        self.contradicted = Counter(
            "trinetra_identity_contradicted_tracks",
            "Tracks whose faces point to two people, by reason.",
            ["reason"],
            registry=r,
        )
        self.id_switches = Counter(
            "trinetra_identity_id_switches",
            "Face states that followed their face to another tracker id (takeover: from an "
            "ended track; swap: two live tracks).",
            ["kind"],
            registry=r,
        )
        self.visits_linked = Counter(
            "trinetra_identity_visits_linked",
            "Anonymous visit decisions: joined an existing visit, started a new one, or "
            "split off one it could not be part of.",
            ["result"],
            registry=r,
        )
        self.active_visits = Gauge(
            "trinetra_identity_visits",
            "Anonymous visits with a template in memory.",
            registry=r,
        )
        self.visits_erased = Counter(
            "trinetra_identity_visits_erased",
            "Anonymous visits erased on request.",
            registry=r,
        )
        self.active_identities = Gauge(
            "trinetra_active_identities", "Customers in the active registry.", registry=r
        )
        self.active_tracks = Gauge(
            "trinetra_identity_tracks", "Tracks whose identity is being followed.", registry=r
        )
        self.confidence = Histogram(
            "trinetra_reid_confidence_score",
            "Mean vote score of resolved identities.",
            buckets=_SCORE_BUCKETS,
            registry=r,
        )
        self.decision_latency = Histogram(
            "trinetra_reid_latency_seconds",
            "Wall time of one observation's decision (search included).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.gallery_latency = Histogram(
            "trinetra_qdrant_query_latency_seconds",
            "Wall time of gallery operations, by operation.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.gallery_ops = Counter(
            "trinetra_gallery_operations",
            "Audited gallery operations, by action.",
            ["action"],
            registry=r,
        )
        self.drift_mean = Gauge(
            "trinetra_identity_match_score_rolling_mean",
            "Rolling mean match score per camera (drift monitor).",
            ["camera"],
            registry=r,
        )
        self.drift_alerts = Counter(
            "trinetra_identity_drift_alerts",
            "Drift alerts raised (a camera's rolling mean fell below baseline - margin).",
            ["camera"],
            registry=r,
        )
        self.drifting = Gauge(
            "trinetra_identity_drifting",
            "1 while a camera's match score is drifting.",
            ["camera"],
            registry=r,
        )
