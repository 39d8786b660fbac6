"""Every Prometheus metric of the orchestrator, defined in one place.

All metrics live on a dedicated `CollectorRegistry` (never prometheus_client's global
default one), so importing this module registers nothing globally and tests can build
isolated `OrchestratorMetrics(CollectorRegistry())` instances.

Use the shared instance in production code paths:

    from orchestrator.metrics import METRICS
    METRICS.frames_in.labels(camera="entrance-1").inc()

and expose `REGISTRY` (e.g. `prometheus_client.start_http_server(port, registry=REGISTRY)`).
Components accept an `OrchestratorMetrics` argument defaulting to `METRICS`, which is how
tests inject their own.

The event publisher's and checkpoint store's metrics are defined next to that code
(trinetra.events) and registered here on the same registry, as `publisher` and
`checkpoint`, so the names exist once and the whole orchestrator is one scrape.

Label values must stay low-cardinality: camera ids, fixed reason strings, model names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from orchestrator.checkpoint import CheckpointMetrics
from trinetra.events.publisher import PublisherMetrics
from trinetra.inference.endpoints import EndpointMetrics

__all__ = [
    "CAMERA_STATES",
    "METRICS",
    "REGISTRY",
    "OrchestratorMetrics",
]

# The CameraWorker state machine's states; kept here (not imported from the worker) so
# the camera code can import this module without a cycle.
CAMERA_STATES = ("connecting", "live", "error", "stopped")

# Inference on CPU takes 5-100 ms a batch, on GPU 1-20 ms: buckets cover both.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0)
_FILL_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class OrchestratorMetrics:
    """The orchestrator's metrics, registered on `registry` (a fresh one when omitted)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        # --- ingestion -------------------------------------------------------------
        self.frames_in = Counter(
            "trinetra_frames_in",
            "Frames read from a camera source (before validation and sampling).",
            ["camera"],
            registry=r,
        )
        self.frames_dropped = Counter(
            "trinetra_frames_dropped",
            "Valid frames not passed on: burst (token bucket), overwritten (a newer frame "
            "replaced it in the latest-frame buffer), load_shed (adaptive sampler under "
            "load), static (sampler preferred frames with motion).",
            ["camera", "reason"],
            registry=r,
        )
        self.frames_rejected = Counter(
            "trinetra_frames_rejected",
            "Frames refused by validation: undecodable, empty, bad_shape, blank, black, white.",
            ["camera", "reason"],
            registry=r,
        )
        self.camera_reconnects = Counter(
            "trinetra_camera_reconnects",
            "Times a camera source was lost (or failed to open) and a reconnect was scheduled.",
            ["camera"],
            registry=r,
        )
        self.camera_state = Gauge(
            "trinetra_camera_state",
            "1 for the camera's current state (connecting, live, error, stopped), else 0.",
            ["camera", "state"],
            registry=r,
        )

        # --- inference -------------------------------------------------------------
        self.inference_latency = Histogram(
            "trinetra_inference_latency_seconds",
            "Wall time of one inference request (a batch), by model.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_fill = Histogram(
            "trinetra_batch_fill_ratio",
            "Frames in a batch divided by the maximum batch size, by model.",
            ["model"],
            buckets=_FILL_BUCKETS,
            registry=r,
        )
        # Per Triton endpoint (requests, failures, failovers, healthy): defined with the
        # pool (trinetra.inference.endpoints), counted here for the store node's scrape.
        self.inference_endpoints = EndpointMetrics(r)

        # --- camera registry (orchestrator/registry.py) ------------------------------
        self.registry_changes = Counter(
            "trinetra_camera_registry_changes",
            "Cameras started, restarted or stopped by the camera registry (or the file).",
            ["change"],
            registry=r,
        )
        self.registry_refused = Counter(
            "trinetra_camera_registry_refused",
            "Camera registry entries refused (invalid config, wrong key): nothing changed.",
            registry=r,
        )

        # --- tracking --------------------------------------------------------------
        self.active_tracks = Gauge(
            "trinetra_active_tracks",
            "Tracks currently alive per camera.",
            ["camera"],
            registry=r,
        )

        # --- identity -----------------------------------------------------------------
        self.identity_observations = Counter(
            "trinetra_identity_observations",
            "Face observations of tracked people sent to the identity service, or dropped "
            "(dropped_full: queue bound; dropped_unavailable: service away or slow).",
            ["result"],
            registry=r,
        )

        # --- events: the publisher's and checkpoint store's own metric sets, on this
        # registry, so /metrics shows everything in one place ----------------------
        self.publisher = PublisherMetrics(r)
        self.checkpoint = CheckpointMetrics(r)
        # Shorthands: trinetra_events_{published,buffered,dropped}_total.
        self.events_published = self.publisher.published
        self.events_buffered = self.publisher.buffered
        self.events_dropped = self.publisher.dropped

    def set_camera_state(self, camera: str, state: str) -> None:
        """Mark `state` as the camera's only current state (one-hot over CAMERA_STATES)."""
        for candidate in CAMERA_STATES:
            self.camera_state.labels(camera=camera, state=candidate).set(
                1.0 if candidate == state else 0.0
            )


REGISTRY = CollectorRegistry()
METRICS = OrchestratorMetrics(REGISTRY)
